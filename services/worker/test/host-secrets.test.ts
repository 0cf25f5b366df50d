import { execFile } from "node:child_process";
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

// The docker executor's secrets directory (WHARF_SECRETS_DIR, laid out as mounted Kubernetes
// Secrets) and append-cert (WHARF_APPEND_CERT_FILE), on the real engine: a docker step's
// secretArgs become build args, its registry `secret` the credentials it pushes with (Debian's
// docker-registry on 127.0.0.1 with htpasswd auth, no WHARF_REGISTRY_*), a container step's
// secretName env vars; every value masked in the build log.
const run = promisify(execFile);
const USER = "wharf-secret-user";
const PASSWORD = "mk-secret-registry-pw-91c2";
const TOKEN = "mk-build-arg-token-5f3a";
const DB_PASSWORD = "mk-db-password-0b7e";
// wharf-cmd's name of the project Secret `app` of instance "ci", project 42.
const PROJECT_SECRET = "wharf-ci-project-42-secretname-app";
const CERT =
  "-----BEGIN CERTIFICATE-----\nMIIBwharfTestRootCertificateForAppendCert0123456789\n-----END CERTIFICATE-----\n";
const hasDocker = await requireDockerOrSkip();
// Podman's Docker API pushes only over TLS unless registries.conf marks the registry insecure.
const isPodman = hasDocker && (await engineIsPodman());
const canRun = hasDocker && !isPodman && canStartRegistry({ auth: true });

describe.skipIf(!canRun)("the docker executor's secrets directory and append-cert", () => {
  let dir: string;
  let registry: TestRegistry;
  let host: string;
  let basic: string;
  let image: string;

  beforeAll(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), "wharf-host-secrets-"));
    const started = await startRegistry({ auth: { user: USER, password: PASSWORD } });
    registry = started;
    host = started.host;
    basic = started.authorization;
    image = `${host}/wharf-test/secret-pushed:v1`;
    // The secrets directory, as `kubectl get secret` would be mounted: one directory per Secret.
    const secrets = path.join(dir, "secrets");
    await fs.mkdir(path.join(secrets, PROJECT_SECRET), { recursive: true });
    await fs.writeFile(path.join(secrets, PROJECT_SECRET, "api-token"), TOKEN);
    await fs.writeFile(path.join(secrets, PROJECT_SECRET, "DB_PASSWORD"), DB_PASSWORD);
    await fs.mkdir(path.join(secrets, "registry-creds"));
    const auth = Buffer.from(`${USER}:${PASSWORD}`).toString("base64");
    await fs.writeFile(
      path.join(secrets, "registry-creds", ".dockerconfigjson"),
      JSON.stringify({ auths: { [host]: { auth } } }),
    );
    await fs.writeFile(path.join(dir, "root.crt"), CERT);
  }, 60_000);

  afterAll(async () => {
    await registry?.stop();
    await run("docker", ["image", "rm", "-f", image]).catch(() => {});
    if (dir) await fs.rm(dir, { recursive: true, force: true });
  });

  async function build(pipeline: string) {
    const src = await fs.mkdtemp(path.join(dir, "src-"));
    await fs.writeFile(
      path.join(src, "Dockerfile"),
      `FROM ${BUSYBOX_IMAGE}\nARG TOKEN\nRUN echo "token is $TOKEN" && printf %s "$TOKEN" > /token\n`,
    );
    await fs.writeFile(path.join(src, ".wharf-ci.yml"), pipeline);
    const opts = compileWorkerOptions({
      WHARF_BUILD_REF: String(Math.floor(Math.random() * 1e9)),
      WHARF_SOURCE_DIR: src,
      WHARF_EXECUTOR: "docker",
      WHARF_DATA_DIR: path.join(src, ".data"),
      WHARF_WORKER_HOST: "127.0.0.1",
      WHARF_WORKER_PORT: "0",
      WHARF_WORKER_HTTP_PORT: "-1",
      WHARF_INSTANCE: "ci",
      WHARF_PROJECT_ID: "42",
      WHARF_SECRETS_DIR: path.join(dir, "secrets"),
      WHARF_APPEND_CERT_FILE: path.join(dir, "root.crt"),
    });
    const worker = await startWorker(opts, createLogger("test", "silent"), false);
    const result = await worker.finished;
    const lines: string[] = [];
    for await (const batch of worker.store.followLogs(0)) lines.push(...batch.map((l) => l.message));
    await worker.close();
    return { status: result?.status, log: lines.join("\n") };
  }

  it("gives secretArgs as build args, appends the certificate, pushes with the step's secret and masks it all", async () => {
    const { status, log } = await build(
      [
        "build:",
        "  env-from-secret:",
        "    container:",
        `      image: ${BUSYBOX_IMAGE}`,
        "      secretName: app",
        "      cmds:",
        '        - echo "db password is $DB_PASSWORD"',
        "  image:",
        "    docker:",
        "      file: Dockerfile",
        `      destination: ${host}/wharf-test/secret-pushed`,
        "      tag: v1",
        "      append-cert: true",
        "      secret: registry-creds",
        "      secretName: app",
        "      secretArgs:",
        "        - TOKEN=api-token",
        "",
      ].join("\n"),
    );
    expect(status, log).toBe("SUCCESS");
    // Masked wherever printed: the RUN's echo, the container step's echo.
    expect(log).toContain("token is ***");
    expect(log).toContain("db password is ***");
    for (const secret of [TOKEN, DB_PASSWORD, PASSWORD]) expect(log).not.toContain(secret);
    expect(log).not.toMatch(/warning: .* is ignored/);
    // Pushed with the step's registry secret: this worker has no WHARF_REGISTRY_*.
    const tags = await fetch(`http://${host}/v2/wharf-test/secret-pushed/tags/list`, {
      headers: { authorization: basic },
    });
    expect(await tags.json()).toEqual({ name: "wharf-test/secret-pushed", tags: ["v1"] });
    // The image built: the build arg's value, and the certificate appended to the CA bundle.
    const cat = async (file: string) => (await run("docker", ["run", "--rm", image, "cat", file])).stdout;
    expect(await cat("/token")).toBe(TOKEN);
    expect(await cat("/usr/local/share/ca-certificates/root.crt")).toBe(CERT);
    expect((await cat("/etc/ssl/certs/ca-certificates.crt")).endsWith(CERT)).toBe(true);
  }, 240_000);

  it("says so when the step's registry secret is not in the directory, and falls back on the worker's registry settings", async () => {
    const { status, log } = await build(
      [
        "build:",
        "  image:",
        "    docker:",
        "      file: Dockerfile",
        `      destination: ${host}/wharf-test/secret-fallback`,
        "      tag: v1",
        "",
      ].join("\n"),
    );
    // The default registry secret (wharf-cmd's "gitlab-registry") is not there; no WHARF_REGISTRY_* either.
    expect(status, log).toBe("SUCCESS");
    expect(log).toContain(
      "warning: registry secret \"gitlab-registry\" is not in the worker's secrets directory: pushing with the worker's registry settings",
    );
    expect(log).toContain("push skipped: no registry configured for this worker");
    await run("docker", ["image", "rm", "-f", `${host}/wharf-test/secret-fallback:v1`]).catch(() => {});
  }, 120_000);

  it("fails a step whose secret key is missing, naming the key and not retrying it", async () => {
    const { status, log } = await build(
      [
        "build:",
        "  image:",
        "    docker:",
        "      file: Dockerfile",
        "      destination: wharf-test/never-built",
        "      tag: v1",
        "      push: false",
        "      retries: 2",
        "      secretName: app",
        "      secretArgs:",
        "        - TOKEN=no-such-key",
        "",
      ].join("\n"),
    );
    expect(status).toBe("FAILED");
    expect(log).toContain('key "no-such-key" is not in the step\'s secret "app"');
    expect(log).not.toMatch(/retry|attempt 2/i);
  }, 120_000);
});
