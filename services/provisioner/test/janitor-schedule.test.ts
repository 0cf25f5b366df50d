import { execFile } from "node:child_process";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { WHARF_LABELS, WORKER_COMPONENT } from "@wharf/proto/labels";
import { BUSYBOX_IMAGE, containersWithLabel, ensureBusyboxImage, requireDockerOrSkip } from "@wharf/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { compileOptions, type RunningProvisioner, startProvisioner } from "../src/index.js";

/**
 * WHARF_JANITOR_INTERVAL: the provisioner runs the janitor on its engine and counts what it
 * removed in /metrics. Scoped by WHARF_JANITOR_LABELS to this file's own objects, so it never
 * removes what other tests on this engine left.
 */

const hasDocker = await requireDockerOrSkip();
const run = `${process.pid}-${Date.now().toString(36)}`;
const RUN_LABEL = "wharf-test.janitor-schedule/run";

describe("compileOptions: WHARF_JANITOR_INTERVAL", () => {
  it("is off by default, and refused with the kubernetes backend", () => {
    expect(compileOptions({}, "/srv").janitor).toBeUndefined();
    const o = compileOptions({ WHARF_JANITOR_INTERVAL: "1h", WHARF_JANITOR_IMAGES: "yes" }, "/srv");
    expect(o.janitor).toMatchObject({ intervalMs: 3_600_000, options: { images: true, dryRun: false } });
    expect(() =>
      compileOptions(
        {
          WHARF_JANITOR_INTERVAL: "1h",
          WHARF_PROVISIONER_BACKEND: "kubernetes",
          WHARF_K8S_WORKER_IMAGE: "w",
        },
        "/srv",
      ),
    ).toThrow(/kubernetes/);
  });
});

describe.skipIf(!hasDocker)("the provisioner's scheduled janitor", () => {
  const docker = (...args: string[]) => promisify(execFile)("docker", args);
  let dataDir: string;
  let provisioner: RunningProvisioner | undefined;

  beforeAll(async () => {
    await ensureBusyboxImage();
    dataDir = await fs.mkdtemp(path.join(os.tmpdir(), "wharf-janitor-schedule-"));
  }, 120_000);
  afterAll(async () => {
    await provisioner?.close();
    const left = await containersWithLabel(`${RUN_LABEL}=${run}`);
    if (left.length) await docker("rm", "-f", ...left);
    await fs.rm(dataDir, { recursive: true, force: true });
  });

  it("removes a crashed worker's container and counts it in /metrics", async () => {
    // `docker run` returns once the container exited: a worker that crashed.
    await docker(
      "run",
      "--label",
      `${RUN_LABEL}=${run}`,
      "--label",
      `${WHARF_LABELS.workerId}=crashed-${run}`,
      "--label",
      `${WHARF_LABELS.component}=${WORKER_COMPONENT}`,
      BUSYBOX_IMAGE,
      "true",
    );
    provisioner = await startProvisioner(
      compileOptions(
        {
          WHARF_PROVISIONER_PORT: "0",
          WHARF_DATA_DIR: dataDir,
          WHARF_JANITOR_INTERVAL: "200ms",
          WHARF_JANITOR_LABELS: `${RUN_LABEL}=${run}`,
          WHARF_JANITOR_MIN_AGE: "0s",
        },
        dataDir,
      ),
    );
    const deadline = Date.now() + 20_000;
    while ((await containersWithLabel(`${RUN_LABEL}=${run}`)).length > 0) {
      expect(Date.now()).toBeLessThan(deadline);
      await new Promise((r) => setTimeout(r, 200));
    }
    // The pass counts what it removed when it ends, a moment after the container is gone.
    const removed = /^wharf_janitor_objects_removed_total\{kind="container"\} 1$/m;
    let metrics = "";
    while (!removed.test(metrics)) {
      expect(Date.now()).toBeLessThan(deadline);
      metrics = await (await fetch(`${provisioner.url}/metrics`)).text();
      if (!removed.test(metrics)) await new Promise((r) => setTimeout(r, 200));
    }
    expect(metrics).toMatch(/^wharf_janitor_bytes_reclaimed_total \d+$/m);
  }, 60_000);
});
