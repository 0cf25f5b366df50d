import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { STANDBY_ID_ENV } from "@wharf/proto/worker-standby";
import type { Worker } from "@wharf/provisioner";
import {
  api,
  PASSING_PIPELINE,
  startTestProvisioner,
  type TestProvisioner,
  waitFor,
  wharfApiQuery,
} from "@wharf/provisioner/testing";
import { makePipelineRepo } from "@wharf/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { StandbyWorkers } from "../src/standby-workers.js";
import { LocalBackend } from "../src/worker-backend.js";
import { defaultWorkerCommand, inheritedEnv } from "../src/worker-command.js";

// The real compiled worker as a standby (`wharf worker serve --standby`): started before the
// build, given it on stdin.
const TOKEN = "standby-token";
const GIT_TOKEN_MARKER = "standby-git-token-7f3a9c";
let tmp: string;
let repo: string;
let p: TestProvisioner;

beforeAll(async () => {
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), "wharf-standby-"));
  repo = await makePipelineRepo(path.join(tmp, "repo"), PASSING_PIPELINE);
  p = await startTestProvisioner({
    token: TOKEN,
    dataDir: path.join(tmp, "data"),
    local: { standbyWorkers: 1 },
  });
});
afterAll(async () => {
  await p?.close();
  await fs.rm(tmp, { recursive: true, force: true });
});

const standbyDir = () => path.join(tmp, "data", "workers", ".standby");
const standbyIds = async () =>
  (await fs.readdir(standbyDir()).catch(() => [] as string[])).map((f) => f.replace(/\.log$/, ""));

/** The pid of the process whose environment carries this standby id. */
async function pidOfStandby(id: string): Promise<number | undefined> {
  for (const name of await fs.readdir("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    const environ = await fs.readFile(`/proc/${name}/environ`, "latin1").catch(() => "");
    if (environ.split("\0").includes(`${STANDBY_ID_ENV}=${id}`)) return Number(name);
  }
  return undefined;
}

describe("standby workers (local backend)", () => {
  it("runs a build on the standby started before it, keeps its token out of the environ, and starts the next", async () => {
    const [standbyId] = await waitFor("a standby started", async () => {
      const ids = await standbyIds();
      return ids.length === 1 ? ids : undefined;
    });
    const pid = await waitFor("its process", () => pidOfStandby(standbyId as string));

    const query = wharfApiQuery({ buildRef: 41, gitUrl: repo, token: TOKEN }).replace(
      "GIT_TOKEN=",
      `GIT_TOKEN=${GIT_TOKEN_MARKER}`,
    );
    expect((await api(p.url, "POST", `/api/worker?${query}`)).status).toBe(201);
    const done = await waitFor(
      "build 41 finished",
      async () => {
        const res = await api(p.url, "GET", "/api/worker?buildRef=41", { token: TOKEN });
        const w = (res.json as Worker[])[0];
        return w && ["Success", "Failed"].includes(w.status) ? w : undefined;
      },
      60_000,
    );
    expect(done.status).toBe("Success");

    // The standby became the build's worker: same process, its log moved into the worker's directory.
    const workerDir = path.join(tmp, "data", "workers", done.workerId);
    const state = JSON.parse(await fs.readFile(path.join(workerDir, "worker.json"), "utf8"));
    expect(state).toMatchObject({ pid, standbyId });
    await fs.access(path.join(workerDir, "worker.log"));
    expect(await standbyIds()).not.toContain(standbyId);
    // The build's env came through the pipe: GIT_TOKEN is not in the process's environ.
    const environ = await fs.readFile(`/proc/${pid}/environ`, "latin1");
    expect(environ).not.toContain(GIT_TOKEN_MARKER);
    expect(environ).not.toContain("WHARF_BUILD_REF");

    // Another standby waits for the next build.
    await waitFor("the next standby", async () => {
      const ids = await standbyIds();
      return ids.length === 1 && ids[0] !== standbyId ? true : undefined;
    });

    // A provisioner started again (no standbys of its own) still knows the worker's process as running.
    const again = new LocalBackend({ dataDir: path.join(tmp, "data") });
    const listed = (await again.list()).find((w) => w.workerId === done.workerId);
    expect(listed).toMatchObject({ state: "running", exitCode: null });
  });

  it("a standby whose stdin ends before a build came exits 0", async () => {
    const dir = path.join(tmp, "lonely");
    const standbys = new StandbyWorkers({
      count: 1,
      command: defaultWorkerCommand(),
      dir,
      env: inheritedEnv(),
    });
    standbys.start();
    // Spawned at once, ready for a take once the pool has it (a take before that starts cold).
    const s = await waitFor("a standby ready", async () => standbys.take());
    const exited = new Promise<number | null>((r) => s.child.once("exit", (code) => r(code)));
    s.stdin.end();
    expect(await exited).toBe(0);
    await standbys.close();
  });
});
