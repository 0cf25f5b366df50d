import { execFile } from "node:child_process";
import { promisify } from "node:util";
import type { Logger } from "@wharf/config";
import { BUSYBOX_IMAGE, containersWithLabel, requireDockerOrSkip } from "@wharf/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DockerDirectory, WORKER_ID_LABEL } from "../src/index.js";

const run = promisify(execFile);
const instance = `relay-test-${process.pid}`;
const hasDocker = await requireDockerOrSkip();

// Real containers carrying the worker labels (busybox sleeping in place of a worker).
describe.skipIf(!hasDocker)("DockerDirectory", () => {
  beforeAll(async () => {
    const labels = (id: string, build: string) => [
      "--label",
      `wharf.iver.com/instance=${instance}`,
      "--label",
      `${WORKER_ID_LABEL}=${id}`,
      "--label",
      `wharf.iver.com/build-ref=${build}`,
      "--label",
      "wharf.iver.com/grpc-port=5999",
      "--label",
      "wharf.iver.com/component=worker",
    ];
    await run("docker", [
      "run",
      "-d",
      "--network",
      "host",
      ...labels("dw-1", "11"),
      BUSYBOX_IMAGE,
      "sleep",
      "60",
    ]);
    await run("docker", [
      "run",
      "-d",
      "--network",
      "none",
      ...labels("dw-2", "12"),
      BUSYBOX_IMAGE,
      "sh",
      "-c",
      "exit 3",
    ]);
    // A worker container labelled by hand with a build ref that is no wharf-api build id.
    await run("docker", [
      "run",
      "-d",
      "--network",
      "none",
      ...labels("dw-bad", "run-5"),
      BUSYBOX_IMAGE,
      "sleep",
      "60",
    ]);
    // A failed step container of worker dw-1: it carries the worker's id, but is no worker.
    await run("docker", [
      "run",
      "-d",
      "--network",
      "none",
      "--label",
      `wharf.iver.com/instance=${instance}`,
      "--label",
      `${WORKER_ID_LABEL}=dw-1`,
      "--label",
      "wharf.iver.com/build-ref=11",
      "--label",
      "wharf.iver.com/created-by=wharf-executor",
      BUSYBOX_IMAGE,
      "sh",
      "-c",
      "exit 1",
    ]);
  });
  afterAll(async () => {
    const ids = await containersWithLabel(`wharf.iver.com/instance=${instance}`);
    if (ids.length > 0) await run("docker", ["rm", "-f", ...ids]);
  });

  it("lists labelled workers with address and state, and removes them", async () => {
    const told: unknown[] = [];
    const log = { warn: (obj: unknown, msg: string) => told.push([obj, msg]) } as unknown as Logger;
    const dir = new DockerDirectory({ instance, log });
    // The failing container needs a moment to exit: poll, bounded.
    let workers = await dir.list();
    for (let i = 0; i < 100 && workers.find((w) => w.workerId === "dw-2")?.status !== "failed"; i++) {
      await new Promise((r) => setTimeout(r, 50));
      workers = await dir.list();
    }
    expect(workers.map((w) => w.workerId).sort()).toEqual(["dw-1", "dw-2"]); // not the step, nor dw-bad
    // dw-bad is left out with the reason, said once however often the list is read.
    expect(told).toEqual([
      [
        {
          workerId: "dw-bad",
          err: 'label wharf.iver.com/build-ref must be a wharf-api build id (a whole number from 1 to 9007199254740991, no sign, spaces or leading zeros), got "run-5"',
        },
        "worker left out: it names no wharf-api build",
      ],
    ]);
    const byId = Object.fromEntries(workers.map((w) => [w.workerId, w]));
    expect(byId["dw-1"]).toEqual({
      workerId: "dw-1",
      buildId: 11,
      address: "127.0.0.1:5999",
      status: "running",
    });
    expect(byId["dw-2"]).toEqual({ workerId: "dw-2", buildId: 12, address: null, status: "failed" });
    await dir.remove("dw-1");
    await dir.remove("dw-1"); // already gone: still fine
    expect((await dir.list()).map((w) => w.workerId)).toEqual(["dw-2"]);
  });

  it("finds a worker that began as a standby by its name once a build took it, told by the rename", async () => {
    const dir = new DockerDirectory({ instance });
    const name = `wharf-standby-dw5-${process.pid}`;
    const { stdout } = await run("docker", [
      "run",
      "-d",
      "--network",
      "none",
      "--name",
      name,
      ...[
        `wharf.iver.com/instance=${instance}`,
        "wharf.iver.com/component=worker",
        "wharf.iver.com/standby=true",
        "wharf.iver.com/grpc-port=5998",
      ].flatMap((l) => ["--label", l]),
      BUSYBOX_IMAGE,
      "sleep",
      "60",
    ]);
    const id = stdout.trim();
    // Waiting for a build: no worker of any build.
    expect((await dir.list()).map((w) => w.workerId)).not.toContain(`dw5-${process.pid}`);
    const signal = new AbortController();
    const told = dir.changed(signal.signal);
    await run("docker", ["rename", id, `wharf-worker-13-dw5-${process.pid}`]);
    await told;
    const listed = (await dir.list()).find((w) => w.workerId === `dw5-${process.pid}`);
    expect(listed).toMatchObject({ buildId: 13, status: "running" });
    await dir.remove(`dw5-${process.pid}`);
    expect((await dir.list()).map((w) => w.workerId)).not.toContain(`dw5-${process.pid}`);
  });

  it("says its list changed when a worker container starts, also one that started between a list and the question", async () => {
    const dir = new DockerDirectory({ instance });
    await dir.list();
    const signal = new AbortController();
    let answered = false;
    const first = dir.changed(signal.signal).then(() => {
      answered = true;
    });
    // A step container of a worker (no component label) is no worker's change.
    const step = await startLabelled("dw-3", false, ["true"]);
    await run("docker", ["wait", step]);
    expect(answered).toBe(false);
    await startLabelled("dw-3", true, ["sleep", "60"]);
    await first;

    // Listed, then a worker came, then the question: the engine's events since the list answer it.
    await dir.list();
    const dw4 = await startLabelled("dw-4", true, ["sleep", "60"]);
    await dir.changed(signal.signal);

    // A worker that exits is a change too (Podman's filter names that event "died").
    await dir.list();
    await run("docker", ["kill", dw4]);
    await dir.changed(signal.signal);

    // Aborting a pending question rejects it.
    const quiet = new DockerDirectory({ instance: `${instance}-quiet` });
    await quiet.list();
    const pending = quiet.changed(signal.signal);
    signal.abort(new Error("stopping"));
    await expect(pending).rejects.toThrow("stopping");
  });
});

/** A container of this run's instance carrying a worker's id; a worker's own also its component label. */
async function startLabelled(workerId: string, worker: boolean, cmd: string[]): Promise<string> {
  const labels = [`wharf.iver.com/instance=${instance}`, `${WORKER_ID_LABEL}=${workerId}`];
  if (worker) labels.push("wharf.iver.com/component=worker");
  const { stdout } = await run("docker", [
    "run",
    "-d",
    "--network",
    "none",
    ...labels.flatMap((l) => ["--label", l]),
    BUSYBOX_IMAGE,
    ...cmd,
  ]);
  return stdout.trim();
}
