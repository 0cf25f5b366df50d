import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { CREATED_BY_EXECUTOR, WHARF_LABELS, WORKER_COMPONENT } from "@wharf/proto/labels";
import {
  BUSYBOX_IMAGE,
  containersWithLabel,
  ensureBusyboxImage,
  requireDockerOrSkip,
  wharfArgs,
} from "@wharf/testkit";
import Docker from "dockerode";
import { pack } from "tar-stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readProgress } from "../src/engine-progress.js";
import { compileJanitorOptions, JanitorBusyError, type JanitorOptions, runJanitor } from "../src/janitor.js";
import { acquireJanitorLock } from "../src/janitor-lock.js";

/**
 * `wharf janitor` on a real engine (Docker, and Podman in test-ci.sh's second pass). The
 * leftovers are made here with wharf's labels, as the provisioner and the executor put them.
 * Every object also carries RUN_LABEL and every janitor here is scoped to it (`labels`), so
 * the test never removes what other tests on this engine left; liveness still sees them all.
 */

const hasDocker = await requireDockerOrSkip();
const docker = new Docker();
const podman =
  hasDocker &&
  (((await docker.version()) as { Components?: { Name: string }[] }).Components?.some((c) =>
    /podman/i.test(c.Name),
  ) ??
    false);
const run = `${process.pid}-${Date.now().toString(36)}`;
const RUN_LABEL = "wharf-test.janitor/run";
const scope = { [RUN_LABEL]: run };
const lockName = `wharf-janitor-lock-test-${run}`;
const options = (over: Partial<JanitorOptions> = {}): JanitorOptions => ({
  ...compileJanitorOptions({}, {}),
  // Its workers ended just now: no waiting for the provisioner to see them go.
  minAgeMs: 0,
  labels: scope,
  lockName,
  ...over,
});

interface Worker {
  workerId: string;
  worker: string;
  step: string;
  volume: string;
  network: string;
}

/** A worker container, one step container, the build's volume and network; `crashed`: both containers exited. */
async function makeWorker(name: string, buildRef: number, crashed: boolean): Promise<Worker> {
  const workerId = `${name}-${run}`;
  const base = { ...scope, [WHARF_LABELS.workerId]: workerId, [WHARF_LABELS.buildId]: String(buildRef) };
  const byExecutor = { ...base, [WHARF_LABELS.createdBy]: CREATED_BY_EXECUTOR };
  const cmd = crashed ? ["true"] : ["sleep", "300"];
  const start = async (c: Docker.Container) => {
    await c.start();
    if (crashed) await c.wait();
    return c.id;
  };
  const worker = await start(
    await docker.createContainer({
      Image: BUSYBOX_IMAGE,
      Cmd: cmd,
      Labels: { ...base, [WHARF_LABELS.component]: WORKER_COMPONENT },
    }),
  );
  const step = await start(
    await docker.createContainer({
      Image: BUSYBOX_IMAGE,
      Cmd: cmd,
      Labels: { ...byExecutor, [WHARF_LABELS.stepId]: "1", [WHARF_LABELS.stepName]: "build" },
      HostConfig: { NetworkMode: "none" },
    }),
  );
  const volume = `wharf-test-janitor-${workerId}`;
  await docker.createVolume({ Name: volume, Labels: byExecutor });
  const network = `wharf-test-janitor-${workerId}-network`;
  await docker.createNetwork({ Name: network, Driver: "bridge", Labels: byExecutor });
  return { workerId, worker, step, volume, network };
}

async function exists(kind: "container" | "volume" | "network" | "image", id: string): Promise<boolean> {
  const get = {
    container: () => docker.getContainer(id).inspect(),
    volume: () => docker.getVolume(id).inspect(),
    network: () => docker.getNetwork(id).inspect(),
    image: () => docker.getImage(id).inspect(),
  }[kind];
  return get().then(
    () => true,
    (err: { statusCode?: number }) => {
      if (err.statusCode === 404) return false;
      throw err;
    },
  );
}

async function present(w: Worker): Promise<boolean[]> {
  return Promise.all([
    exists("container", w.worker),
    exists("container", w.step),
    exists("volume", w.volume),
    exists("network", w.network),
  ]);
}

/** An untagged (dangling) image from a one-directory tar, with `labels`. */
async function danglingImage(labels: Record<string, string>): Promise<string> {
  const tar = pack();
  tar.entry({ name: "data/", type: "directory", mode: 0o755 });
  tar.finalize();
  // One LABEL per change: Podman reads `LABEL a=1 b=2` as one label a with the value "1 b=2".
  const changes = Object.entries(labels).map(([k, v]) => `LABEL ${k}=${v}`);
  await readProgress(
    await docker.importImage(tar as unknown as NodeJS.ReadableStream, { changes } as object),
  );
  // By one label, then the rest here: Podman 4.3 lists no image for a filter of two labels.
  const images = await docker.listImages({ filters: JSON.stringify({ label: [`${RUN_LABEL}=${run}`] }) });
  const image = images.find((i) => Object.entries(labels).every(([k, v]) => i.Labels?.[k] === v));
  if (!image) throw new Error(`imported image with ${changes.join(", ")} not found`);
  return image.Id;
}

async function cleanUp(): Promise<void> {
  const filters = JSON.stringify({ label: [`${RUN_LABEL}=${run}`] });
  for (const c of await docker.listContainers({ all: true, filters }))
    await docker.getContainer(c.Id).remove({ force: true });
  for (const v of (await docker.listVolumes({ filters })).Volumes ?? [])
    await docker.getVolume(v.Name).remove();
  for (const n of await docker.listNetworks({ filters })) await docker.getNetwork(n.Id).remove();
  for (const i of await docker.listImages({ filters })) await docker.getImage(i.Id).remove({ force: true });
  await docker
    .getContainer(lockName)
    .remove({ force: true })
    .catch(() => {});
}

describe.skipIf(!hasDocker)("wharf janitor", () => {
  beforeAll(ensureBusyboxImage, 120_000);
  afterAll(async () => {
    await cleanUp();
    expect(await containersWithLabel(`${RUN_LABEL}=${run}`)).toEqual([]);
  });

  it("removes a crashed worker's leftovers and nothing of a running build; dry-run removes nothing", async () => {
    const crashed = await makeWorker("crashed", 9001, true);
    const running = await makeWorker("running", 9002, false);

    // With the default minimum age, a worker that ended a moment ago keeps everything.
    expect((await runJanitor(docker, options({ minAgeMs: 3_600_000 }))).removed).toEqual([]);
    const dry = await runJanitor(docker, options({ dryRun: true }));
    expect(dry.dryRun).toBe(true);
    expect(new Set(dry.removed.map((o) => o.workerId))).toEqual(new Set([crashed.workerId]));
    expect(dry.counts).toEqual({ containers: 2, volumes: 1, networks: 1, images: 0 });
    expect(await present(crashed)).toEqual([true, true, true, true]);

    const report = await runJanitor(docker, options());
    expect(report.counts).toEqual({ containers: 2, volumes: 1, networks: 1, images: 0 });
    expect(report.removed.map((o) => o.id).sort()).toEqual(
      [crashed.worker, crashed.step, crashed.volume, crashed.network].sort(),
    );
    expect(report.skipped).toEqual([]);
    expect(await present(crashed)).toEqual([false, false, false, false]);
    expect(await present(running)).toEqual([true, true, true, true]);

    // The running build's stopped step container stays too: its worker is alive.
    const finishedStep = await docker.createContainer({
      Image: BUSYBOX_IMAGE,
      Cmd: ["true"],
      Labels: {
        ...scope,
        [WHARF_LABELS.workerId]: running.workerId,
        [WHARF_LABELS.createdBy]: CREATED_BY_EXECUTOR,
      },
    });
    expect((await runJanitor(docker, options())).removed).toEqual([]);
    expect(await exists("container", finishedStep.id)).toBe(true);
  });

  it("knows a worker that began as a standby by its name: its objects stay while it runs, and go once it ended", async () => {
    const workerId = `standby-born-${run}`;
    // Labelled as a standby is (no worker id nor build ref), named as the build that took it names it.
    const worker = await docker.createContainer({
      name: `wharf-worker-9003-${workerId}`,
      Image: BUSYBOX_IMAGE,
      Cmd: ["sleep", "300"],
      Labels: { ...scope, [WHARF_LABELS.component]: WORKER_COMPONENT, [WHARF_LABELS.standby]: "true" },
    });
    await worker.start();
    const byExecutor = {
      ...scope,
      [WHARF_LABELS.workerId]: workerId,
      [WHARF_LABELS.buildId]: "9003",
      [WHARF_LABELS.createdBy]: CREATED_BY_EXECUTOR,
    };
    const volume = `wharf-test-janitor-${workerId}`;
    await docker.createVolume({ Name: volume, Labels: byExecutor });
    // Between its steps: no step container of it runs, only the worker itself.
    expect((await runJanitor(docker, options())).removed).toEqual([]);
    expect(await exists("volume", volume)).toBe(true);

    await worker.kill();
    await worker.wait();
    const report = await runJanitor(docker, options());
    expect(report.removed.map((o) => o.id).sort()).toEqual([volume, worker.id].sort());
    expect(report.removed.every((o) => o.workerId === workerId)).toBe(true);
  });

  it("removes dangling images only when asked, and never one labelled keep", async () => {
    const keep = await danglingImage({ ...scope, keep: "true" });
    const junk = await danglingImage({ ...scope, "wharf-test.janitor/junk": "1" });
    expect((await runJanitor(docker, options())).counts.images).toBe(0);
    const report = await runJanitor(docker, options({ images: true }));
    expect(report.removed.map((o) => o.id)).toEqual([junk]);
    expect(await exists("image", junk)).toBe(false);
    expect(await exists("image", keep)).toBe(true);
  });

  it("trims the build cache to its budget", async () => {
    // A budget far above any cache here: the call is made, nothing of other tests' cache goes.
    const report = await runJanitor(docker, options({ buildCacheBudget: 1e15 }));
    expect(report.buildCache).toEqual({ budget: 1e15, bytes: 0, supported: true });
  });

  it.skipIf(!podman)(
    "on Podman trims the untagged image chains rebuilds left, oldest first, never a tagged image's layers",
    async () => {
      const tag = `wharf-test-janitor-cache-${run}:x`;
      const dockerfile = `FROM ${BUSYBOX_IMAGE}\nLABEL ${RUN_LABEL}=${run}\nRUN head -c 200000 /dev/urandom > /a\n`;
      /** Builds the tag afresh; returns the image and its parent (the LABEL step's intermediate image). */
      const rebuild = async () => {
        const context = pack();
        context.entry({ name: "Dockerfile" }, dockerfile);
        context.finalize();
        const stream = await docker.buildImage(context as unknown as NodeJS.ReadableStream, {
          t: tag,
          nocache: true,
          rm: true,
        });
        await readProgress(stream);
        const image = await docker.getImage(tag).inspect();
        // Podman gives the parent as bare hex, which its API refuses as a name.
        return [image.Id, `sha256:${image.Parent.replace(/^sha256:/, "")}`] as const;
      };
      try {
        const chains = [await rebuild(), await rebuild(), await rebuild()];
        const present = async () =>
          Promise.all(chains.map(async (chain) => Promise.all(chain.map((id) => exists("image", id)))));
        expect(await present()).toEqual([
          [true, true],
          [true, true],
          [true, true],
        ]);
        // Two old chains of ~200 kB each are the cache; dry, nothing goes.
        const dry = await runJanitor(docker, options({ buildCacheBudget: 0, dryRun: true }));
        expect(dry.removed.map((o) => o.id).sort()).toEqual([chains[0]![0], chains[1]![0]].sort());
        expect(await present()).toEqual([
          [true, true],
          [true, true],
          [true, true],
        ]);
        // Within 300 kB: the oldest chain goes, leaf and parent, the newer one stays.
        const trimmed = await runJanitor(docker, options({ buildCacheBudget: 300_000 }));
        expect(trimmed.counts.images).toBe(1);
        expect(trimmed.buildCache).toMatchObject({ budget: 300_000, supported: true });
        expect(trimmed.buildCache!.bytes).toBeGreaterThanOrEqual(200_000);
        expect(await present()).toEqual([
          [false, false],
          [true, true],
          [true, true],
        ]);
        // Budget 0: all cache goes; the tagged image and its layers (its parent) stay.
        await runJanitor(docker, options({ buildCacheBudget: 0 }));
        expect(await present()).toEqual([
          [false, false],
          [false, false],
          [true, true],
        ]);
      } finally {
        await docker
          .getImage(tag)
          .remove({ force: true })
          .catch(() => {});
      }
    },
    120_000,
  );

  it("lets one janitor at a time run on an engine", async () => {
    const results = await Promise.allSettled([
      runJanitor(docker, options({ dryRun: true })),
      runJanitor(docker, options({ dryRun: true })),
    ]);
    expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(1);
    const rejected = results.find((r) => r.status === "rejected");
    expect(rejected?.reason).toBeInstanceOf(JanitorBusyError);
    expect(String(rejected?.reason)).toMatch(/being cleaned by another janitor/);
    // Released after each run: the next one gets the lock.
    await runJanitor(docker, options({ dryRun: true }));
  });

  it("breaks a lock older than the stale timeout", async () => {
    const dead = await acquireJanitorLock(docker, { name: lockName, staleMs: 60_000 });
    await expect(runJanitor(docker, options({ dryRun: true }))).rejects.toBeInstanceOf(JanitorBusyError);
    await runJanitor(docker, options({ dryRun: true, lockStaleMs: 0 }));
    await dead.release(); // already broken: a no-op
  });

  it("`wharf janitor` exits 3 while another janitor holds the engine's lock", async () => {
    const held = await acquireJanitorLock(docker, { staleMs: 60_000 });
    try {
      const err = await promisify(execFile)(process.execPath, wharfArgs(["janitor", "--dry-run"]), {
        env: process.env,
      }).then(
        () => undefined,
        (e: { code?: number; stderr?: string }) => e,
      );
      expect(err?.code).toBe(3);
      expect(err?.stderr).toMatch(/the engine is being cleaned by another janitor/);
    } finally {
      await held.release();
    }
  });
});
