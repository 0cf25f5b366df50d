import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { createLogger } from "@wharf/config";
import { LABEL_BUILD_REF } from "@wharf/executor";
import type { DockerExecutor } from "@wharf/executor-docker";
import { requireDockerOrSkip } from "@wharf/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createExecutor } from "../src/executor-factory.js";
import { compileWorkerOptions } from "../src/index.js";

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
});
