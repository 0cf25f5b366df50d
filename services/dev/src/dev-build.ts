import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { styleText } from "node:util";
import { createLogger } from "@wharf/config";
import { type DevStack, startDevStack } from "./dev-stack.js";
import { snapshotSource } from "./source-snapshot.js";

export interface DevBuildOptions {
  /** Directory holding .wharf-ci.yml (absolute). */
  dir: string;
  /** A running `wharf up`'s dev sink; when it does not answer, a stack is started for this build. */
  sinkUrl: string;
  dataDir: string;
  backend: "local" | "docker";
  stage?: string;
  environment?: string;
  inputs: Record<string, string>;
  env: NodeJS.ProcessEnv;
}

interface SinkLog {
  logId: number;
  workerStepId: number;
  message: string;
}

const palette = ["cyan", "magenta", "yellow", "blue", "green", "red"] as const;

/**
 * `wharf build`: snapshots the directory into a git repository, starts the build through
 * the dev sink exactly as wharf-api would (sink → provisioner → worker → aggregator →
 * sink), prints the relayed log lines as they arrive and returns 0/1 for the result.
 */
export async function runDevBuild(opts: DevBuildOptions): Promise<number> {
  // The embedded stack's own retries (a worker still starting) are not news to the user: errors only.
  const log = createLogger("build", undefined, { pretty: true, defaultLevel: "error", env: opts.env });
  let stack: DevStack | null = null;
  let sinkUrl = opts.sinkUrl;
  if (!(await answers(sinkUrl))) {
    process.stderr.write("wharf build: no `wharf up` running; starting one for this build\n");
    stack = await startDevStack(
      {
        dataDir: opts.dataDir,
        backend: opts.backend,
        host: "127.0.0.1",
        sinkPort: 0,
        provisionerPort: 0,
        aggregatorPort: 0,
        env: opts.env,
      },
      log,
    );
    sinkUrl = stack.sinkUrl;
  }
  try {
    const repo = await snapshotSource(opts.dir, path.join(opts.dataDir, "sources"));
    const res = await fetch(`${sinkUrl}/api/dev/builds`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        gitUrl: repo,
        branch: "main",
        repoName: path.basename(opts.dir),
        ...(opts.stage ? { stage: opts.stage } : {}),
        ...(opts.environment ? { environment: opts.environment } : {}),
        inputs: opts.inputs,
      }),
    });
    const body = (await res.json()) as { buildId?: number; title?: string; detail?: string };
    if (!res.ok || !body.buildId) {
      process.stderr.write(
        `wharf build: could not start the build: ${body.title ?? res.status} ${body.detail ?? ""}\n`,
      );
      return 1;
    }
    process.stderr.write(`wharf build: build ${body.buildId} started\n`);
    const code = await follow(sinkUrl, body.buildId, process.stdout.isTTY === true);
    // The final status arrives before the aggregator has released and removed the worker;
    // let it finish that before this embedded stack goes away.
    if (stack) await workerRemoved(stack.provisionerUrl, body.buildId);
    return code;
  } finally {
    await stack?.close();
  }
}

/** Waits (bounded) until the provisioner lists no worker for the build any more. */
async function workerRemoved(provisionerUrl: string, buildId: number): Promise<void> {
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline) {
    const res = await fetch(`${provisionerUrl}/api/worker?buildRef=${buildId}`).catch(() => null);
    const workers = res?.ok ? ((await res.json()) as unknown[]) : [];
    if (workers.length === 0) return;
    await sleep(100);
  }
}

async function answers(url: string): Promise<boolean> {
  try {
    const res = await fetch(`${url}/api/build?limit=0`, { signal: AbortSignal.timeout(1000) });
    return res.ok;
  } catch {
    return false;
  }
}

/** Prints lines as the sink stores them until the build's final status (sent after the last line). */
async function follow(sinkUrl: string, buildId: number, colour: boolean): Promise<number> {
  let after = 0;
  const paint = (i: number, s: string) => (colour ? styleText(palette[i % palette.length] ?? "cyan", s) : s);
  const drain = async () => {
    const res = await fetch(`${sinkUrl}/api/build/${buildId}/log?after=${after}`);
    const lines = (await res.json()) as SinkLog[];
    let out = "";
    for (const l of lines) {
      const who = l.workerStepId === 0 ? "wharf" : `step ${l.workerStepId}`;
      out += `${paint(l.workerStepId, `[${who}]`)} ${l.message}\n`;
      after = l.logId;
    }
    if (out) process.stdout.write(out);
  };
  for (;;) {
    const res = await fetch(`${sinkUrl}/api/build/${buildId}`);
    const build = (await res.json()) as { status: string };
    await drain();
    if (build.status === "Completed" || build.status === "Failed") {
      await drain();
      process.stdout.write(`\nbuild ${buildId}: ${build.status}\n`);
      return build.status === "Completed" ? 0 : 1;
    }
    await sleep(200);
  }
}
