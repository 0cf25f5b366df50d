import { type ChildProcess, spawn } from "node:child_process";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { freePort, waitFor, wharfArgs } from "@wharf/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../..");
let dataDir: string;
let sleepy: string;

beforeAll(async () => {
  dataDir = await fs.mkdtemp(path.join(os.tmpdir(), "wharf-up-"));
  sleepy = path.join(dataDir, "sleepy");
  await fs.mkdir(sleepy);
  await fs.writeFile(
    path.join(sleepy, ".wharf-ci.yml"),
    "wait:\n  forever:\n    container:\n      image: x\n      cmds: ['echo waiting', 'sleep 300']\n",
  );
});
afterAll(async () => {
  await fs.rm(dataDir, { recursive: true, force: true });
});

function wharf(args: string[], env: Record<string, string>): ChildProcess & { output: () => string } {
  const child = spawn(process.execPath, wharfArgs(args), {
    cwd: repo,
    env: { ...process.env, ...env, WHARF_DATA_DIR: dataDir, NO_COLOR: "1" },
  });
  let out = "";
  child.stdout?.on("data", (d: Buffer) => {
    out += d.toString();
  });
  child.stderr?.on("data", (d: Buffer) => {
    out += d.toString();
  });
  return Object.assign(child, { output: () => out });
}

const exited = (c: ChildProcess) =>
  new Promise<number | null>((resolve) =>
    c.exitCode !== null ? resolve(c.exitCode) : c.once("exit", resolve),
  );

/** The worker processes `wharf up` started, busy or standby (by their command and working directory). */
async function workersAlive(): Promise<number[]> {
  const pids: number[] = [];
  for (const entry of await fs.readdir("/proc")) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    // A worker process, busy or standby, of this data dir: a standby takes its build's environment
    // on stdin, so its environ does not say; its command and working directory do.
    const cmdline = await fs.readFile(`/proc/${entry}/cmdline`, "utf8").catch(() => "");
    const cwd = await fs.readlink(`/proc/${entry}/cwd`).catch(() => "");
    if (cmdline.includes("worker\0serve") && cwd.startsWith(dataDir)) pids.push(Number(entry));
  }
  return pids;
}

describe("wharf up", () => {
  it("serves builds from `wharf build`, and Ctrl-C stops it and every worker it started", async () => {
    const ports = {
      WHARF_DEV_SINK_PORT: String(await freePort()),
      WHARF_PROVISIONER_PORT: String(await freePort()),
      WHARF_AGGREGATOR_PORT: String(await freePort()),
    };
    const sink = `http://127.0.0.1:${ports.WHARF_DEV_SINK_PORT}`;
    const up = wharf(["up"], ports);
    try {
      await waitFor("wharf up to be ready", () => up.output().includes("wharf is up"), 60_000, 200);

      const hello = wharf(["build", "examples/hello", "--sink", sink], {});
      expect(await exited(hello)).toBe(0);
      expect(hello.output()).not.toContain("starting one");
      expect(hello.output()).toMatch(/tick 3/);

      // A build that never ends on its own, then Ctrl-C on `wharf up`.
      const follower = wharf(["build", sleepy, "--sink", sink], {});
      await waitFor("the long build to run", () => follower.output().includes("waiting"), 60_000, 200);
      expect((await workersAlive()).length).toBeGreaterThan(0);
      up.kill("SIGINT");
      expect(await exited(up)).toBe(0);
      await waitFor(
        "worker processes to be gone",
        async () => (await workersAlive()).length === 0,
        30_000,
        200,
      );
      follower.kill("SIGKILL");
      await exited(follower);
    } finally {
      up.kill("SIGKILL");
    }
  }, 120_000);
});
