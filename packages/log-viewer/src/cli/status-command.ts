import { type BuildId, formatBuildId } from "@wharf/proto/build-id";
import type { Command } from "commander";
import type { ViewerSummary } from "../log-events.js";
import { stepLabel } from "../log-text.js";
import { BuildEventsError, followBuildEvents } from "./build-events-client.js";
import { LogPrinter, paintStatus } from "./log-printer.js";
import {
  AGGREGATOR_FLAG_HELP,
  aggregatorToken,
  aggregatorUrl,
  buildIdArgument,
  EXIT_FAILED,
  EXIT_OK,
  wantsColour,
} from "./logs-command.js";

interface StatusOptions {
  watch?: boolean;
  json?: boolean;
  aggregator?: string;
}

/** `wharf status <buildRef> [-w] [--json]`. */
export function registerStatusCommand(program: Command): void {
  program
    .command("status")
    .description("show a build's status and steps; exit 0 unless the build failed or was cancelled")
    .argument("<buildRef>", "the build (wharf-api build id)", buildIdArgument)
    .option("-w, --watch", "wait for the build to finish, with a live status line on a terminal")
    .option("--json", "print the summary as JSON")
    .option("--aggregator <url>", AGGREGATOR_FLAG_HELP)
    .action(async (buildId: BuildId, opts: StatusOptions) => {
      process.exitCode = await runStatus(buildId, opts);
    });
}

async function runStatus(buildId: BuildId, opts: StatusOptions): Promise<number> {
  const baseUrl = aggregatorUrl(opts.aggregator).replace(/\/+$/, "");
  try {
    if (opts.watch) await watch(baseUrl, buildId);
    const summary = await fetchSummary(baseUrl, buildId);
    process.stdout.write(opts.json ? `${JSON.stringify(summary, null, 2)}\n` : formatSummary(summary));
    const failed = summary.finished && summary.status !== "SUCCESS";
    return failed ? EXIT_FAILED : EXIT_OK;
  } catch (err) {
    process.stderr.write(`wharf status: ${(err as Error).message}\n`);
    return EXIT_FAILED;
  }
}

/** Follows the event stream (lines are not printed) until the build ends. */
async function watch(baseUrl: string, buildId: BuildId): Promise<void> {
  const printer = new LogPrinter({
    out: process.stdout,
    err: process.stderr,
    colour: wantsColour(process.stderr),
    statusLine: true,
  });
  printer.stepIds = new Set(); // no lines, only the status line
  try {
    await followBuildEvents(
      { baseUrl, token: aggregatorToken(), buildId, follow: true, afterLogId: undefined },
      {
        summary: (s) => printer.summary(s),
        log: (lines) => printer.lines(lines),
        status: (e) => printer.status(e),
        reconnecting: (reason) => printer.reconnecting(reason),
      },
    );
  } finally {
    printer.clear();
  }
}

async function fetchSummary(baseUrl: string, buildId: BuildId): Promise<ViewerSummary> {
  const url = `${baseUrl}/api/builds/${formatBuildId(buildId)}/summary`;
  let res: Response;
  try {
    const token = aggregatorToken();
    res = await fetch(url, {
      headers: { accept: "application/json", ...(token ? { authorization: `Bearer ${token}` } : {}) },
      signal: AbortSignal.timeout(30_000),
    });
  } catch (err) {
    throw new BuildEventsError(`${url}: ${(err as Error).message}`, undefined);
  }
  if (res.status === 404) throw new BuildEventsError(`build ${buildId} is not known (${url})`, 404);
  if (!res.ok) throw new BuildEventsError(`${url}: HTTP ${res.status}`, res.status);
  return (await res.json()) as ViewerSummary;
}

const MARKS: Record<string, string> = { SUCCESS: "✓", FAILED: "✗", CANCELLED: "⊘", RUNNING: "▶" };

export function formatSummary(s: ViewerSummary, colour = wantsColour(process.stdout)): string {
  const width = Math.max(4, ...s.steps.map((step) => stepLabel(s.steps, step.stepId).length));
  let out = `build ${s.buildRef} ${paintStatus(s.status, colour)}${s.message ? `: ${s.message}` : ""}\n`;
  for (const step of s.steps) {
    const exit = step.exitCode === null ? "" : `  exit ${step.exitCode}`;
    const retries = step.attempts > 1 ? `  ${step.attempts} attempts` : "";
    const mark = MARKS[step.status] ?? "·";
    out += `  ${mark} ${stepLabel(s.steps, step.stepId).padEnd(width)}  ${paintStatus(step.status, colour)}${exit}${retries}\n`;
  }
  out += `  ${s.lastLogId} log lines\n`;
  return out;
}
