import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { createLogger } from "@wharf/config";
import { LABEL_BUILD_REF } from "@wharf/executor";
import type { DockerExecutor } from "@wharf/executor-docker";
import { requireDockerOrSkip } from "@wharf/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createExecutor } from "../src/executor-factory.js";
import { compileWorkerOptions, startWorker } from "../src/index.js";

const hasDocker = await requireDockerOrSkip();

describe("WHARF_DOCKER_NETWORK", () => {
  let dir: string;
  beforeAll(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), "wharf-worker-net-"));
  });
  afterAll(async () => {
    if (dir) await fs.rm(dir, { recursive: true, force: true });
  });
  const options = (env: Record<string, string> = {}) =>
    compileWorkerOptions({ WHARF_BUILD_REF: "1", WHARF_SOURCE_DIR: dir, WHARF_EXECUTOR: "docker", ...env });

  it('defaults to "build" (a network per build), never the host network', () => {
    expect(options().dockerNetwork).toBe("build");
    expect(options({ WHARF_DOCKER_NETWORK: "" }).dockerNetwork).toBe("build");
  });

  it("takes none, host or a network name as given", () => {
    for (const value of ["none", "host", "ci-net"])
      expect(options({ WHARF_DOCKER_NETWORK: value }).dockerNetwork).toBe(value);
  });

  it.skipIf(!hasDocker)(
    "gives the worker's docker executor a network of the build's own by default",
    async () => {
      const executor = (await createExecutor(options(), createLogger("test"))) as DockerExecutor;
      expect(executor.kind).toBe("docker");
      const build = {
        buildRef: `net-${process.pid}-${Date.now().toString(36)}`,
        sourceDir: dir,
        labels: {},
        env: {},
      };
      try {
        await executor.setupBuild(build);
        const found = await executor.findLeftovers({ [LABEL_BUILD_REF]: build.buildRef });
        expect(found.networks).toEqual([`wharf-${build.buildRef}-network`]);
      } finally {
        await executor.destroyBuild(build);
      }
      expect((await executor.findLeftovers({ [LABEL_BUILD_REF]: build.buildRef })).networks).toEqual([]);
    },
  );

  it.skipIf(!hasDocker)(
    "removes the network it made ahead for a build whose pipeline cannot be planned",
    async () => {
      const source = await fs.mkdtemp(path.join(os.tmpdir(), "wharf-worker-net-bad-"));
      const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), "wharf-worker-net-data-"));
      await fs.writeFile(path.join(source, ".wharf-ci.yml"), "build:\n  oops: [\n");
      const buildRef = String(Date.now());
      const opts = compileWorkerOptions(
        {
          WHARF_BUILD_REF: buildRef,
          WHARF_SOURCE_DIR: source,
          WHARF_EXECUTOR: "docker",
          WHARF_DATA_DIR: dataDir,
        },
        { port: 0, host: "127.0.0.1" },
      );
      const probe = (await createExecutor(opts, createLogger("test", "silent"))) as DockerExecutor;
      const worker = await startWorker(opts, createLogger("test", "silent"), false);
      try {
        expect(await worker.finished).toBeNull();
        expect(worker.store.summary().status).toBe("FAILED");
        expect((await probe.findLeftovers({ [LABEL_BUILD_REF]: buildRef })).networks).toEqual([]);
      } finally {
        await worker.close();
        await fs.rm(source, { recursive: true, force: true });
        await fs.rm(dataDir, { recursive: true, force: true });
      }
    },
  );
});
