import { execFile, spawn } from "node:child_process";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { createLogger } from "@wharf/config";
import {
  BUSYBOX_IMAGE,
  canStartRegistry,
  engineIsPodman,
  requireDockerOrSkip,
  startRegistry,
  type TestRegistry,
} from "@wharf/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { compileWorkerOptions, startWorker } from "../src/index.js";

// A `docker` step of a worker configured with WHARF_REGISTRY_* pushes for real: Debian's
// docker-registry (distribution 2.8) on 127.0.0.1 with htpasswd auth, the engine pushing to it.
const run = promisify(execFile);
const USER = "wharf-ci";
const PASSWORD = "mk-registry-password-4d1e";
const hasDocker = await requireDockerOrSkip();
// Podman's Docker API pushes only over TLS unless registries.conf marks the registry insecure.
const isPodman = hasDocker && (await engineIsPodman());
const canRun = hasDocker && !isPodman && canStartRegistry({ auth: true });

describe.skipIf(!canRun)("docker steps push to the worker's registry (WHARF_REGISTRY_*)", () => {
  let dir: string;
  let registry: TestRegistry;
  let host: string;
  let basic: string;
  let pulledId: string | undefined;

  beforeAll(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), "wharf-registry-push-"));
    const started = await startRegistry({ auth: { user: USER, password: PASSWORD } });
    registry = started;
    host = started.host;
    basic = started.authorization;
  }, 60_000);

  afterAll(async () => {
    await registry?.stop();
    await run("docker", ["image", "rm", "-f", `${host}/wharf-test/pushed:v1`]).catch(() => {});
    // The copy pulled back is also known by its digest, which the tag's removal leaves behind.
    if (pulledId) await run("docker", ["image", "rm", "-f", pulledId]).catch(() => {});
    if (dir) await fs.rm(dir, { recursive: true, force: true });
  });

  async function build(password: string) {
    const src = await fs.mkdtemp(path.join(dir, "src-"));
    await fs.writeFile(path.join(src, "Dockerfile"), `FROM ${BUSYBOX_IMAGE}\nRUN echo built > /built\n`);
    await fs.writeFile(
      path.join(src, ".wharf-ci.yml"),
      `build:\n  image:\n    docker:\n      file: Dockerfile\n      destination: ${host}/wharf-test/pushed\n      tag: v1\n`,
    );
    const opts = compileWorkerOptions({
      WHARF_BUILD_REF: String(Math.floor(Math.random() * 1e9)),
      WHARF_SOURCE_DIR: src,
      WHARF_EXECUTOR: "docker",
      WHARF_DATA_DIR: path.join(src, ".data"),
      WHARF_WORKER_HOST: "127.0.0.1",
      WHARF_WORKER_PORT: "0",
      WHARF_WORKER_HTTP_PORT: "-1",
      WHARF_REGISTRY_URL: host,
      WHARF_REGISTRY_USER: USER,
      WHARF_REGISTRY_PASSWORD: password,
    });
    const worker = await startWorker(opts, createLogger("test", "silent"), false);
    const result = await worker.finished;
    const lines: string[] = [];
    for await (const batch of worker.store.followLogs(0)) lines.push(...batch.map((l) => l.message));
    await worker.close();
    return { status: result?.status, lines };
  }

  it("pushes the built image with the configured credentials", async () => {
    const { status, lines } = await build(PASSWORD);
    expect(status).toBe("SUCCESS");
    expect(lines.join("\n")).not.toContain("push skipped");
    const tags = await fetch(`http://${host}/v2/wharf-test/pushed/tags/list`, {
      headers: { authorization: basic },
    });
    expect(await tags.json()).toEqual({ name: "wharf-test/pushed", tags: ["v1"] });
    expect(lines.join("\n")).not.toContain(PASSWORD);

    // The digest the engine reported for the push is the registry's manifest digest...
    const pushed = /digest: (sha256:[0-9a-f]{64})/.exec(lines.join("\n"))?.[1];
    expect(pushed, lines.join("\n")).toBeDefined();
    const manifest = await fetch(`http://${host}/v2/wharf-test/pushed/manifests/v1`, {
      method: "HEAD",
      headers: { authorization: basic, accept: "application/vnd.docker.distribution.manifest.v2+json" },
    });
    expect(manifest.headers.get("docker-content-digest")).toBe(pushed);
    // ...and the image pulled back from the registry (the local copy removed first) has it and runs.
    const image = `${host}/wharf-test/pushed:v1`;
    await run("docker", ["image", "rm", "-f", image]);
    const dockerConfig = await fs.mkdtemp(path.join(dir, "docker-config-"));
    const asClient = { env: { ...process.env, DOCKER_CONFIG: dockerConfig } };
    const login = spawn("docker", ["login", host, "-u", USER, "--password-stdin"], {
      ...asClient,
      stdio: "pipe",
    });
    login.stdin.end(PASSWORD);
    expect(await new Promise((r) => login.on("close", r))).toBe(0);
    await run("docker", ["pull", image], asClient);
    const { stdout } = await run("docker", [
      "image",
      "inspect",
      "--format",
      "{{.Id}} {{json .RepoDigests}}",
      image,
    ]);
    const [id, digests] = stdout.trim().split(" ", 2) as [string, string];
    pulledId = id;
    expect(JSON.parse(digests)).toContain(`${host}/wharf-test/pushed@${pushed}`);
    expect((await run("docker", ["run", "--rm", image, "cat", "/built"])).stdout).toBe("built\n");
  }, 180_000);

  it("fails the step, readably and without the password, when the registry refuses the credentials", async () => {
    const wrong = "mk-wrong-password-77aa";
    const { status, lines } = await build(wrong);
    expect(status).toBe("FAILED");
    expect(lines.join("\n")).toMatch(/unauthorized|authentication required|no basic auth/i);
    expect(lines.join("\n")).not.toContain(wrong);
  }, 120_000);
});

describe("WHARF_REGISTRY_* settings", () => {
  const options = (env: Record<string, string>) =>
    compileWorkerOptions({ WHARF_BUILD_REF: "1", WHARF_SOURCE_DIR: os.tmpdir(), ...env });

  it("are the registry docker steps push to; unset, they build without pushing", () => {
    expect(options({}).registry).toBeUndefined();
    expect(
      options({
        WHARF_REGISTRY_URL: "reg.example.invalid:5000",
        WHARF_REGISTRY_USER: "u",
        WHARF_REGISTRY_PASSWORD: "p",
      }).registry,
    ).toEqual({ serveraddress: "reg.example.invalid:5000", username: "u", password: "p" });
  });

  it("refuse credentials without a registry, and a URL that is not a host[:port]", () => {
    expect(() => options({ WHARF_REGISTRY_PASSWORD: "p" })).toThrow(/need WHARF_REGISTRY_URL/);
    expect(() => options({ WHARF_REGISTRY_URL: "https://reg.example.invalid" })).toThrow(/host\[:port\]/);
  });
});
