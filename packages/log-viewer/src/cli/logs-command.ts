import { type BuildId, BuildIdError, parseBuildId } from "@wharf/proto/build-id";
import type { LogEntry, StepSummary } from "@wharf/result-store";
import { type Command, InvalidArgumentError } from "commander";
import { stepLabel } from "../log-text.js";
import { type BuildEventsError, followBuildEvents } from "./build-events-client.js";
import { LogPrinter, paintStatus } from "./log-printer.js";
import { AGGREGATOR_CLIENT_SETTINGS, DEFAULT_AGGREGATOR_URL } from "./settings.js";

/** Exit codes of `wharf logs` and `wharf status`, as for the rest of `wharf`. */
export const EXIT_OK = 0;
export const EXIT_FAILED = 1;
export const EXIT_USAGE = 2;

/** `--aggregator`, else WHARF_AGGREGATOR_URL (AGGREGATOR_CLIENT_SETTINGS). */
export function aggregatorUrl(flag: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  return flag ?? AGGREGATOR_CLIENT_SETTINGS.url.read(env);
}

/** The aggregator's token, for an aggregator that requires one (WHARF_AGGREGATOR_TOKEN). */
export function aggregatorToken(env: NodeJS.ProcessEnv = process.env): string | undefined {
  return AGGREGATOR_CLIENT_SETTINGS.token.read(env);
}

/** The `--aggregator` flag's help: its default, by the setting's name. */
export const AGGREGATOR_FLAG_HELP = `aggregator URL (default $${AGGREGATOR_CLIENT_SETTINGS.url.env} or ${DEFAULT_AGGREGATOR_URL})`;

/** The <buildRef> argument: wharf-api's build id, refused with parseBuildId's message. */
export function buildIdArgument(value: string): BuildId {
  try {
    return parseBuildId(value, "<buildRef>");
  } catch (err) {
    if (!(err instanceof BuildIdError)) throw err;
    throw new InvalidArgumentError(err.message);
  }
}

function parseLogId(value: string): number {
  if (!/^\d{1,15}$/.test(value)) throw new InvalidArgumentError("expected a log id (a whole number ≥ 0)");
  return Number(value);
}

/** Colours only for a terminal, unless NO_COLOR or FORCE_COLOR say otherwise. */
export function wantsColour(stream: { isTTY?: boolean }, env: NodeJS.ProcessEnv = process.env): boolean {
  if (env.NO_COLOR) return false;
  if (env.FORCE_COLOR && env.FORCE_COLOR !== "0") return true;
  return stream.isTTY === true;
}

/** Steps whose name or `stage/name` is `wanted`. */
function matchSteps(steps: StepSummary[], wanted: string): Set<number> {
  return new Set(
    steps.filter((s) => s.name === wanted || stepLabel(steps, s.stepId) === wanted).map((s) => s.stepId),
  );
}

interface LogsOptions {
  follow?: boolean;
  after?: number;
  step?: string;
  timestamps?: boolean;
  aggregator?: string;
}

/** `wharf logs <buildRef> [-f] [--after ID] [--step NAME] [--timestamps]`. */
export function registerLogsCommand(program: Command): void {
  program
    .command("logs")
    .description("print a build's log from the aggregator; -f follows it live until the build ends")
    .argument("<buildRef>", "the build (wharf-api build id)", buildIdArgument)
    .option("-f, --follow", "stay until the build is finished; exit 0 on success, 1 on failure")
    .option("--after <id>", "start after this log line id", parseLogId)
    .option("--step <name>", "only lines of this step (name or stage/name)")
    .option("-t, --timestamps", "start each line with its time (ISO 8601, UTC)")
    .option("--aggregator <url>", AGGREGATOR_FLAG_HELP)
    .action(async (buildId: BuildId, opts: LogsOptions) => {
      process.exitCode = await runLogs(buildId, opts);
    });
}

async function runLogs(buildId: BuildId, opts: LogsOptions): Promise<number> {
  const colour = wantsColour(process.stdout);
  const printer = new LogPrinter({
    out: process.stdout,
    err: process.stderr,
    colour,
    statusLine: opts.follow === true,
    timestamps: opts.timestamps === true,
  });
  const stop = new AbortController();
  let usage = "";
  let held: LogEntry[] | undefined;
  try {
    const end = await followBuildEvents(
      {
        baseUrl: aggregatorUrl(opts.aggregator),
        token: aggregatorToken(),
        buildId,
        follow: opts.follow === true,
        afterLogId: opts.after,
        signal: stop.signal,
      },
      {
        summary(s) {
          if (opts.step !== undefined) {
            const ids = matchSteps(s.steps, opts.step);
            // A worker names its steps once it planned the build (after the clone): until a
            // summary lists them, a follower holds the lines back (they may come first).
            if (ids.size === 0 && s.steps.length === 0 && !s.finished && opts.follow) {
              held ??= [];
              printer.summary(s);
              return;
            }
            if (ids.size === 0) {
              const known = s.steps.map((step) => stepLabel(s.steps, step.stepId)).join(", ");
              usage = `wharf logs: build ${buildId} has no step "${opts.step}" (steps: ${known || "none"})`;
              stop.abort();
              return;
            }
            printer.stepIds = ids;
          }
          printer.summary(s);
          if (held) printer.lines(held);
          held = undefined;
        },
        log: (lines) => {
          if (held) held.push(...lines);
          else printer.lines(lines);
        },
        status: (e) => printer.status(e),
        progress: (p) => printer.progress(p),
        reconnecting: (reason) => printer.reconnecting(reason),
      },
    );
    printer.clear();
    if (held) {
      process.stderr.write(
        `wharf logs: build ${buildId} ended without a step "${opts.step}" (it has no steps)\n`,
      );
      return EXIT_USAGE;
    }
    if (!end.finished) return EXIT_OK;
    const tail = end.message ? `: ${end.message}` : "";
    process.stderr.write(`build ${buildId} ${paintStatus(end.status, wantsColour(process.stderr))}${tail}\n`);
    return end.status === "SUCCESS" ? EXIT_OK : EXIT_FAILED;
  } catch (err) {
    printer.clear();
    if (usage) {
      process.stderr.write(`${usage}\n`);
      return EXIT_USAGE;
    }
    const e = err as BuildEventsError;
    const why = e.httpStatus === 404 ? `build ${buildId} is not known (${e.message})` : e.message;
    process.stderr.write(`wharf logs: ${why}\n`);
    return e.httpStatus === 400 ? EXIT_USAGE : EXIT_FAILED;
  }
}
