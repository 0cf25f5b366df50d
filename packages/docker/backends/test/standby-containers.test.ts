import { execFile } from "node:child_process";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { defaultWorkerCommand } from "@wharf/local-backends";
import type { Worker } from "@wharf/provisioner";
import {
  api,
  PASSING_PIPELINE,
  SLEEPING_PIPELINE,
  startTestProvisioner,
  type TestProvisioner,
  waitFor,
  wharfApiQuery,
} from "@wharf/provisioner/testing";
import {
  dockerSocketPath,
  ensureWorkerBaseImage,
  makePipelineRepo,
  requireDockerOrSkip,
  WORKER_BASE_IMAGE,
  workerImageMounts,
} from "@wharf/testkit";
import Docker from "dockerode";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DockerBackend, LABEL_GRPC_PORT, LABEL_WORKER_ID } from "../src/index.js";
import { StandbyContainers } from "../src/standby-containers.js";

const run = promisify(execFile);
const repoRoot = path.resolve(import.meta.dirname, "../../../..");
const hasDocker = await requireDockerOrSkip();
const INSTANCE = `standby-test-${process.pid}`;
const SECRET = `standby-git-token-${process.pid}`;

interface Inspected {
  Name: string;
  Config: { Env: string[]; Labels: Record<string, string> };
  State: { Running: boolean };
}

async function inspect(id: string): Promise<Inspected> {
  const { stdout } = await run("docker", ["inspect", id]);
  return (JSON.parse(stdout) as Inspected[])[0] as Inspected;
}

/** Ids of this instance's standby containers that no build took yet. */
async function waitingStandbys(): Promise<string[]> {
  const { stdout } = await run("docker", [
    "ps",
    "-a",
    "-q",
    "--no-trunc",
    "--filter",
    "label=wharf.iver.com/standby=true",
    "--filter",
    `label=wharf.iver.com/instance=${INSTANCE}`,
    "--filter",
    "name=wharf-standby-",
  ]);
  return stdout.split("\n").filter(Boolean);
}

function backendOptions(reposDir: string) {
  return {
    image: WORKER_BASE_IMAGE,
    cmd: defaultWorkerCommand("/usr/local/bin/node"),
    binds: [...workerImageMounts(repoRoot), `${reposDir}:${reposDir}:ro`],
    network: "host",
    bindHost: "127.0.0.1",
    stopGraceMs: 5000,
    executor: "docker" as const,
    socketPath: dockerSocketPath(),
  };
}

// Real worker containers (this checkout's worker in the base image) on the real engine.
describe.skipIf(!hasDocker)("docker backend with standby worker containers", () => {
  let dir: string;
  let p: TestProvisioner;
  let closed = false;
  const workerOf = async (buildRef: number) =>
    ((await api(p.url, "GET", `/api/worker?buildRef=${buildRef}&instance=${INSTANCE}`)).json as Worker[])[0];
  const finished = (buildRef: number) =>
    waitFor(
      `build ${buildRef} finished`,
      async () => {
        const w = await workerOf(buildRef);
        return w && ["Success", "Failed", "Cancelled"].includes(w.status) ? w : undefined;
      },
      120_000,
    );

  beforeAll(async () => {
    await ensureWorkerBaseImage();
    dir = await fs.mkdtemp(path.join(os.tmpdir(), "wharf-standby-docker-"));
    await makePipelineRepo(path.join(dir, "passing"), PASSING_PIPELINE);
    await makePipelineRepo(path.join(dir, "sleeping"), SLEEPING_PIPELINE);
    p = await startTestProvisioner({
      backend: new DockerBackend({ ...backendOptions(dir), standbyWorkers: 1 }),
      dataDir: path.join(dir, "data"),
    });
  }, 600_000);
  afterAll(async () => {
    if (!closed) await p?.close();
    if (dir) await fs.rm(dir, { recursive: true, force: true });
  }, 120_000);

  it("a build takes a started standby: renamed to its worker, its build (token included) on stdin, not in the container's env", async () => {
    // The first build of an instance starts cold; a standby is then kept for that instance.
    const first = (
      await api(
        p.url,
        "POST",
        `/api/worker?${wharfApiQuery({ buildRef: 81, gitUrl: path.join(dir, "passing"), instance: INSTANCE })}`,
      )
    ).json as Worker;
    expect((await finished(81)).status).toBe("Success");
    expect(first.workerId).toBeTruthy();
    const [standby] = await waitFor(
      "a running standby",
      async () => {
        const ids = await waitingStandbys();
        return ids.length === 1 && (await inspect(ids[0] as string)).State.Running ? ids : undefined;
      },
      60_000,
    );

    const query = new URLSearchParams(
      wharfApiQuery({ buildRef: 82, gitUrl: path.join(dir, "passing"), instance: INSTANCE }),
    );
    query.set("GIT_TOKEN", SECRET);
    const res = await api(p.url, "POST", `/api/worker?${query}`);
    expect(res.status, res.text).toBe(201);
    const { workerId } = res.json as Worker;
    const done = await finished(82);
    expect(done.status, done.message ?? undefined).toBe("Success");

    const c = await inspect(standby as string);
    expect(c.Name).toBe(`/wharf-worker-82-${workerId}`);
    expect(c.Config.Labels[LABEL_WORKER_ID]).toBeUndefined();
    expect(done.address).toBe(`127.0.0.1:${c.Config.Labels[LABEL_GRPC_PORT]}`);
    const env = c.Config.Env.join("\n");
    expect(env).not.toContain(SECRET);
    expect(env).not.toContain("WHARF_BUILD_REF");
    expect((await p.backend.list()).find((w) => w.workerId === workerId)).toMatchObject({
      state: "running",
    });
    // Another standby took its place.
    await waitFor("a new standby", async () => (await waitingStandbys()).length === 1, 60_000);

    expect((await api(p.url, "DELETE", `/api/worker/${workerId}`)).status).toBe(204);
    await expect(inspect(standby as string)).rejects.toThrow();
    expect((await p.backend.list()).map((w) => w.workerId)).not.toContain(workerId);
  }, 300_000);

  it("a worker that began as a standby is stopped with its step containers by DELETE", async () => {
    await waitFor("a standby", async () => (await waitingStandbys()).length === 1, 60_000);
    const query = wharfApiQuery({ buildRef: 83, gitUrl: path.join(dir, "sleeping"), instance: INSTANCE });
    const { workerId } = (await api(p.url, "POST", `/api/worker?${query}`)).json as Worker;
    const steps = await waitFor(
      "a step container",
      async () => {
        const { stdout } = await run("docker", [
          "ps",
          "-q",
          "--filter",
          `label=${LABEL_WORKER_ID}=${workerId}`,
        ]);
        return stdout.trim() ? stdout.trim().split("\n") : undefined;
      },
      120_000,
    );
    expect(steps.length).toBeGreaterThanOrEqual(1);
    expect((await api(p.url, "DELETE", `/api/worker/${workerId}`)).status).toBe(204);
    const { stdout } = await run("docker", [
      "ps",
      "-a",
      "-q",
      "--filter",
      `name=wharf-worker-83-${workerId}`,
    ]);
    expect(stdout.trim()).toBe("");
    const left = await run("docker", ["ps", "-a", "-q", "--filter", `label=${LABEL_WORKER_ID}=${workerId}`]);
    expect(left.stdout.trim()).toBe("");
  }, 300_000);

  it("removes the standbys no build took when it closes", async () => {
    await waitFor("a standby", async () => (await waitingStandbys()).length === 1, 60_000);
    closed = true;
    await p.close();
    expect(await waitingStandbys()).toEqual([]);
  }, 120_000);
});

describe.skipIf(!hasDocker)("a standby that died waiting", () => {
  it("is never handed a build: it is removed, and the next take makes another", async () => {
    await ensureWorkerBaseImage();
    const docker = new Docker({ socketPath: dockerSocketPath() });
    const standbys = new StandbyContainers({ count: 1, docker, worker: backendOptions(os.tmpdir()) });
    try {
      expect(standbys.take(INSTANCE)).toBeUndefined();
      const [dead] = await waitFor(
        "a running standby",
        async () => {
          const ids = await waitingStandbys();
          return ids.length === 1 && (await inspect(ids[0] as string)).State.Running ? ids : undefined;
        },
        60_000,
      );
      await run("docker", ["kill", dead as string]);
      await waitFor("the dead standby removed", async () => (await waitingStandbys()).length === 0, 30_000);
      expect(standbys.take(INSTANCE)).toBeUndefined();
      const next = await waitFor("another standby", async () => standbys.take(INSTANCE), 60_000);
      expect(next.containerId).not.toBe(dead);
      await docker.getContainer(next.containerId).remove({ force: true });
      next.stdin.destroy();
    } finally {
      await standbys.close();
    }
    expect(await waitingStandbys()).toEqual([]);
  }, 180_000);
});

describe.skipIf(!hasDocker)("a standby whose provisioner went away", () => {
  it("ends when its stdin's one attach ends, and the next sweep removes it", async () => {
    await ensureWorkerBaseImage();
    const docker = new Docker({ socketPath: dockerSocketPath() });
    const standbys = new StandbyContainers({ count: 1, docker, worker: backendOptions(os.tmpdir()) });
    try {
      expect(standbys.take(INSTANCE)).toBeUndefined(); // kept for this instance from now on
      const taken = await waitFor("a standby", async () => standbys.take(INSTANCE), 60_000);
      // Its attach lost, as when the provisioner's process dies.
      taken.stdin.destroy();
      await waitFor(
        "the standby exited",
        async () => !(await inspect(taken.containerId)).State.Running,
        30_000,
      );
      await standbys.sweepEnded();
      await expect(inspect(taken.containerId)).rejects.toThrow();
    } finally {
      await standbys.close();
    }
  }, 180_000);
});
