import { type ChildProcess, spawn } from "node:child_process";
import fs from "node:fs/promises";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { freePort, startWharfApiDouble, type WharfApiDouble, wharfArgs } from "@wharf/testkit";
import { afterEach, beforeEach, expect, it } from "vitest";
import { Aggregator, WharfApiClient } from "../src/index.js";
import { ListedWorkers, quietLog, useRelayDatabase, waitFor } from "./support.js";

// The real worker process (`wharf worker serve`, local executor) relayed by an
// Aggregator on real Postgres to the wharf-api double.
const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../..");

const relayDb = useRelayDatabase("relay_proc");

let api: WharfApiDouble;
let directory: ListedWorkers;
const cleanups: (() => Promise<unknown> | unknown)[] = [];
beforeEach(async () => {
  api = await startWharfApiDouble();
  directory = new ListedWorkers();
});
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
  await api.close();
});

async function startWorkerProcess(buildId: number, pipeline: string) {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), "relay-proc-"));
  cleanups.push(() => fs.rm(dir, { recursive: true, force: true }));
  await fs.mkdir(path.join(dir, "src"));
  await fs.writeFile(path.join(dir, "src/.wharf-ci.yml"), pipeline);
  const port = await freePort();
  const child: ChildProcess = spawn(process.execPath, wharfArgs(["worker", "serve"]), {
    cwd: repo,
    env: {
      ...process.env,
      WHARF_BUILD_REF: String(buildId),
      WHARF_WORKER_ID: `proc-${buildId}`,
      WHARF_SOURCE_DIR: path.join(dir, "src"),
      WHARF_EXECUTOR: "local",
      WHARF_WORKER_HOST: "127.0.0.1",
      WHARF_WORKER_PORT: String(port),
      WHARF_WORKER_HTTP_PORT: String(await freePort()),
      WHARF_DATA_DIR: path.join(dir, "data"),
      WHARF_LOG_LEVEL: "warn",
    },
    stdio: ["ignore", "ignore", "inherit"],
  });
  const exited = new Promise<number | null>((r) => child.once("exit", (code) => r(code)));
  cleanups.push(async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    await exited;
  });
  // Listed once it accepts connections, as the provisioner reports a started worker.
  await waitFor("worker listening", () => canConnect(port), 30_000);
  directory.workers.set(`proc-${buildId}`, {
    workerId: `proc-${buildId}`,
    buildId,
    address: `127.0.0.1:${port}`,
    status: "running",
  });
  return { child, exited };
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, "127.0.0.1");
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}

function startAggregator(): void {
  const client = new WharfApiClient({ url: api.url, requestTimeoutMs: 5_000 });
  const agg = new Aggregator({
    db: relayDb.db,
    directory,
    api: client,
    log: quietLog,
    leaseTtlMs: 5_000,
    discoveryIntervalMs: 100,
    workerLostGraceMs: 2_000,
    tuning: { retryBaseDelayMs: 20, retryMaxDelayMs: 500 },
  });
  agg.start();
  cleanups.push(async () => {
    await agg.stop();
    client.close();
  });
}

it("relays a real worker process to the end: lines in order, artifact, Completed, released (exit 0)", async () => {
  const worker = await startWorkerProcess(
    501,
    `build:
  count:
    container:
      image: wharf-test/busybox:latest
      cmds:
        - i=1; while [ $i -le 3000 ]; do echo "line $i"; i=$((i+1)); done
        - mkdir -p dist && printf 'artifact-bytes-%s' 12345 > dist/app.bin
      artifacts:
        - dist/*.bin
`,
  );
  startAggregator();
  expect(await worker.exited).toBe(0);
  await waitFor("worker removed", () => directory.removed.includes("proc-501"));
  const lines = api.logsFor(501);
  expect(lines.map((l) => l.workerLogId)).toEqual(lines.map((_, i) => i + 1));
  const counted = lines.map((l) => l.message).filter((m) => /^line \d+$/.test(m));
  expect(counted).toEqual(Array.from({ length: 3000 }, (_, i) => `line ${i + 1}`));
  expect(api.statusesFor(501)).toEqual(["Running", "Completed"]);
  expect(api.artifacts.map((a) => [a.fileName.endsWith("app.bin"), a.bytes.toString()])).toEqual([
    [true, "artifact-bytes-12345"],
  ]);
}, 60_000);

it("a worker process killed mid-build: lines up to the kill, a diagnostic line, build Failed", async () => {
  const worker = await startWorkerProcess(
    502,
    `build:
  slow:
    container:
      image: wharf-test/busybox:latest
      cmds:
        - i=1; while [ $i -le 500 ]; do echo "line $i"; i=$((i+1)); done
        - sleep 60
`,
  );
  startAggregator();
  await waitFor("lines before the kill", () => api.logsFor(502).some((l) => l.message === "line 500"));
  worker.child.kill("SIGKILL");
  await waitFor("build failed", () => api.statusesFor(502).includes("Failed"), 20_000);
  const lines = api.logsFor(502);
  expect(lines.map((l) => l.workerLogId)).toEqual(lines.map((_, i) => i + 1));
  expect(lines.at(-1)?.message).toMatch(/\[wharf\] worker proc-502 stopped answering/);
  expect(lines.filter((l) => /^line \d+$/.test(l.message))).toHaveLength(500);
  expect(api.statusesFor(502)).toEqual(["Running", "Failed"]);
}, 60_000);
