import { execFile } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import type { BuildSpec } from "@wharf/executor";
import { imageRegistryHost, StepStartError } from "@wharf/executor";
import { containerStep, runStep, withExecutorBuild } from "@wharf/executor/testing";
import { CriExecutor, type PullAuth } from "@wharf/executor-cri";
import { canStartRegistry, startRegistry, type TestRegistry } from "@wharf/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { assertCriBuildGone, CRI_DIR, CRI_ENDPOINT, CRI_IMAGE } from "./cri-runtime.js";

/**
 * Step images pulled through the CRI ImageService with credentials: Debian's docker-registry
 * with htpasswd auth on the address scripts/cri/up.sh configured containerd to reach over HTTP.
 */
const run = promisify(execFile);
const USER = "wharf-ci";
const PASSWORD = "cri-pull-password-7c2a";
const registryFile = CRI_DIR ? path.join(CRI_DIR, "test-registry") : "";
const host = registryFile && existsSync(registryFile) ? readFileSync(registryFile, "utf8").trim() : "";
const canRun = !!CRI_ENDPOINT && !!host && canStartRegistry({ auth: true });
const socket = (CRI_ENDPOINT ?? "").replace(/^unix:\/\//, "");
const ctr = (...args: string[]) => run("ctr", ["-a", socket, "-n", "k8s.io", ...args], { timeout: 60_000 });

describe.skipIf(!canRun)("cri executor pulls with credentials (docker-registry, htpasswd)", () => {
  let dir: string;
  let registry: TestRegistry;
  const image = `${host}/wharf-test/private:1`;
  const withAuth = (auth: PullAuth | undefined) =>
    new CriExecutor({ endpoint: CRI_ENDPOINT, workRoot: path.join(dir, "work"), pullAuth: () => auth });

  beforeAll(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), "wharf-cri-registry-"));
    // On the address containerd was told to reach over plain HTTP.
    registry = await startRegistry({ host, auth: { user: USER, password: PASSWORD } });
    // The busybox image into the registry, then forgotten by the runtime: a step must pull it.
    await ctr("images", "tag", "--force", `docker.io/${CRI_IMAGE}`, image);
    await ctr("images", "push", "--plain-http", "-u", `${USER}:${PASSWORD}`, image);
    await ctr("images", "rm", image);
  }, 60_000);

  afterAll(async () => {
    await registry?.stop();
    await ctr("images", "rm", image).catch(() => undefined);
    if (dir) await fs.rm(dir, { recursive: true, force: true });
  });

  const attempt = async (
    auth: PullAuth | undefined,
    body: (e: CriExecutor, b: BuildSpec) => Promise<void>,
  ) => {
    const executor = withAuth(auth);
    try {
      await withExecutorBuild(executor, {}, (b) => body(executor, b), {
        assertGone: (b) => assertCriBuildGone(executor, b),
      });
    } finally {
      executor.close();
    }
  };

  it("fails the step without credentials, and with a wrong password without printing it", async () => {
    const wrong = "wrong-password-e91f";
    for (const auth of [undefined, { username: USER, password: wrong, serverAddress: host }]) {
      await attempt(auth, async (executor, build) => {
        const err = await executor
          .startStep(build, containerStep(2, ["true"], { image }), {})
          .catch((e: unknown) => e);
        expect(err).toBeInstanceOf(StepStartError);
        expect((err as Error).message).toContain(`image ${image} not found locally and pull failed:`);
        expect((err as Error).message).toMatch(/401|unauthorized/i);
        expect((err as Error).message).not.toContain(wrong);
      });
    }
  });

  it("pulls the step's image with the registry's credentials and runs it", async () => {
    expect(imageRegistryHost(image)).toBe(host);
    await attempt({ username: USER, password: PASSWORD, serverAddress: host }, async (executor, build) => {
      const r = await runStep(executor, build, containerStep(1, ["echo pulled"], { image }));
      expect(r).toEqual({ code: 0, stdout: "pulled\n", stderr: "" });
    });
  });
});
