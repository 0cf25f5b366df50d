import { execFile } from "node:child_process";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import type { DockerSpec, PlanStep } from "@wharf/executor";
import { containerStep, runStep, withExecutorBuild } from "@wharf/executor/testing";
import { DockerExecutor } from "@wharf/executor-docker";
import {
  BUSYBOX_IMAGE,
  canStartRegistry,
  engineIsPodman,
  requireDockerOrSkip,
  startRegistry,
  type TestRegistry,
} from "@wharf/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

// `no-cache` and `pull` of `docker` steps, on the engine: what each changes in the image built.
const run = promisify(execFile);
const hasDocker = await requireDockerOrSkip();
const isPodman = hasDocker && (await engineIsPodman());
const executor = new DockerExecutor({ networkMode: "none" });

const imageStep = (id: number, destination: string, spec: Partial<DockerSpec> = {}): PlanStep => ({
  ...containerStep(id, []),
  type: "docker",
  spec: {
    file: "Dockerfile",
    context: ".",
    tags: ["x"],
    destination,
    appendCert: false,
    push: false,
    args: [],
    secretArgs: [],
    noCache: false,
    pull: false,
    ...spec,
  },
});

/** Every image built here: a rebuild untags the previous one, which is then removed by id. */
const builtIds = new Set<string>();
afterAll(async () => {
  if (builtIds.size > 0) await run("docker", ["image", "rm", "-f", ...builtIds]).catch(() => {});
});

/** Builds `dockerfile` as `<repo>:x` in a fresh build, then prints `/id` of the image built. */
async function buildAndRead(dockerfile: string, repo: string, spec: Partial<DockerSpec>): Promise<string> {
  let id = "";
  await withExecutorBuild(executor, { Dockerfile: dockerfile }, async (build) => {
    const built = await runStep(executor, build, imageStep(1, repo, spec));
    expect(built.code, built.stderr).toBe(0);
    builtIds.add((await executor.docker.getImage(`${repo}:x`).inspect()).Id);
    const r = await runStep(executor, build, containerStep(2, ["cat /id"], { image: `${repo}:x` }));
    expect(r.code).toBe(0);
    id = r.stdout.trim();
  });
  return id;
}

describe.skipIf(!hasDocker)("docker step options no-cache and pull", () => {
  const repo = `wharf-test/options-${process.pid}`;
  afterAll(async () => {
    await run("docker", ["image", "rm", "-f", `${repo}:x`]).catch(() => {});
  });

  it("reuses the engine's layer cache by default and builds every layer afresh with no-cache", async () => {
    // A RUN whose output differs on every execution: the same id means the layer came from the cache.
    const dockerfile = `FROM ${BUSYBOX_IMAGE}\nRUN cat /proc/sys/kernel/random/uuid > /id\n`;
    const first = await buildAndRead(dockerfile, repo, {});
    const cached = await buildAndRead(dockerfile, repo, {});
    expect(cached).toBe(first);
    const fresh = await buildAndRead(dockerfile, repo, { noCache: true });
    expect(fresh).toMatch(/^[0-9a-f-]{36}$/);
    expect(fresh).not.toBe(first);
  });
});

// A base image whose registry copy is newer than the engine's: `pull: true` builds on the
// registry's. Debian's docker-registry on 127.0.0.1 (Docker trusts loopback registries without
// TLS; Podman's API would need registries.conf to, so it is not run there).
const canPull = hasDocker && !isPodman && canStartRegistry({ auth: false });
describe.skipIf(!canPull)("docker step option pull", () => {
  let dir: string;
  let registry: TestRegistry;
  let base: string;
  const repo = `wharf-test/pulled-${process.pid}`;
  /** Both versions of the base: the one untagged by the other is removed by id. */
  const baseIds: string[] = [];

  /** Tags a busybox image whose /id is `version` as `base`. */
  async function tagBase(version: string): Promise<void> {
    const ctx = await fs.mkdtemp(path.join(dir, "ctx-"));
    await fs.writeFile(path.join(ctx, "Dockerfile"), `FROM ${BUSYBOX_IMAGE}\nRUN echo ${version} > /id\n`);
    const { stdout } = await run("docker", ["build", "-q", "--network", "none", "-t", base, ctx]);
    baseIds.push(stdout.trim());
  }

  beforeAll(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), "wharf-pull-"));
    registry = await startRegistry();
    base = `${registry.host}/wharf-test/base:1`;
    // The registry holds "v2"; the engine keeps "v1" under the same name.
    await tagBase("v2");
    await run("docker", ["push", "-q", base]);
    await tagBase("v1");
  }, 120_000);

  afterAll(async () => {
    await registry?.stop();
    await run("docker", ["image", "rm", "-f", base, `${repo}:x`, ...baseIds]).catch(() => {});
    if (dir) await fs.rm(dir, { recursive: true, force: true });
  });

  it("builds on the engine's copy of the base image by default, on the registry's with pull", async () => {
    const dockerfile = `FROM ${base}\n`;
    expect(await buildAndRead(dockerfile, repo, {})).toBe("v1");
    expect(await buildAndRead(dockerfile, repo, { pull: true })).toBe("v2");
  });
});
