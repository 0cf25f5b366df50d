import { execFile } from "node:child_process";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { ConfigError } from "@wharf/config";
import type { Worker } from "@wharf/provisioner";
import { Command } from "commander";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { compileOptions, parseCommand, registerProvisionerCommands, startProvisioner } from "../src/index.js";

const run = promisify(execFile);

describe("compileOptions", () => {
  it("applies the documented defaults", () => {
    const o = compileOptions({}, "/srv");
    expect(o).toEqual({
      // No OTLP endpoint: no tracing.
      tracing: { exportDelayMs: 5000 },
      // No token: the API is this machine's only.
      host: "127.0.0.1",
      port: 5009,
      dataDir: "/srv/.wharf",
      maxWorkers: 4,
      pollIntervalMs: 1000,
      retentionMs: 7 * 24 * 3600_000,
      buildTimeoutMs: 60 * 60_000,
      workerStopGraceMs: 15_000,
      shutdownGraceMs: 20_000,
      maxUrlLength: 8192,
      triggerRate: 120,
      backend: { kind: "local", executor: "local", standbyWorkers: 1, workerEnv: {} },
    });
  });

  it("listens everywhere only with a token, and refuses a public address without one", () => {
    expect(compileOptions({ WHARF_PROVISIONER_TOKEN: "t" }, "/srv").host).toBe("0.0.0.0");
    expect(() => compileOptions({ WHARF_PROVISIONER_HOST: "0.0.0.0" }, "/srv")).toThrow(ConfigError);
    expect(compileOptions({ WHARF_PROVISIONER_HOST: "127.0.0.2" }, "/srv").host).toBe("127.0.0.2");
  });

  it("reads the docker backend settings", () => {
    const o = compileOptions({
      WHARF_PROVISIONER_BACKEND: "docker",
      WHARF_WORKER_IMAGE: "wharf/worker:1",
      WHARF_WORKER_BINDS: "/a:/a:ro, /b:/b",
      WHARF_WORKER_CMD: '["node","main.js"]',
      WHARF_PROVISIONER_TOKEN: "t",
      DATABASE_URL: "postgres://x/y",
      WHARF_MAX_WORKERS: "2",
      WHARF_REGISTRY_URL: "registry.example.invalid:5000",
      WHARF_REGISTRY_PASSWORD: "p",
      WHARF_DOCKER_NETWORK: "none",
      WHARF_K8S_KANIKO_IMAGE: "not/for-docker-workers",
    });
    expect(o.backend).toEqual({
      kind: "docker",
      image: "wharf/worker:1",
      command: ["node", "main.js"],
      network: "host",
      binds: ["/a:/a:ro", "/b:/b"],
      socketPath: "/var/run/docker.sock",
      advertiseHost: "127.0.0.1",
      executor: "docker",
      // A command of the operator's need not know the standby flag.
      standbyWorkers: 0,
      // The docker executor's settings, passed on to every worker as they are.
      workerEnv: {
        WHARF_DOCKER_NETWORK: "none",
        WHARF_REGISTRY_URL: "registry.example.invalid:5000",
        WHARF_REGISTRY_PASSWORD: "p",
      },
    });
    expect(o).toMatchObject({ token: "t", databaseUrl: "postgres://x/y", maxWorkers: 2 });
  });

  it("reads the docker backend's cri workers: the runtime's socket and the host work root to mount", () => {
    const docker = { WHARF_PROVISIONER_BACKEND: "docker", WHARF_WORKER_IMAGE: "wharf/worker:1" };
    // The image's own command: one standby container by default.
    expect(compileOptions(docker).backend).toMatchObject({ standbyWorkers: 1 });
    expect(compileOptions({ ...docker, WHARF_WORKER_EXECUTOR: "cri" }).backend).toMatchObject({
      executor: "cri",
      cri: { endpoint: "unix:///run/containerd/containerd.sock", workRoot: "/tmp/wharf-cri-builds" },
      workerEnv: {},
    });
    const own = {
      ...docker,
      WHARF_WORKER_EXECUTOR: "cri",
      WHARF_CRI_ENDPOINT: "unix:///var/run/crio/crio.sock",
      WHARF_CRI_WORK_ROOT: "/srv/wharf-cri",
      WHARF_CRI_NETWORK: "host",
    };
    expect(compileOptions(own).backend).toMatchObject({
      executor: "cri",
      cri: { endpoint: "unix:///var/run/crio/crio.sock", workRoot: "/srv/wharf-cri" },
      // Passed on as they are too (the docker backend sets endpoint and work root itself).
      workerEnv: {
        WHARF_CRI_ENDPOINT: "unix:///var/run/crio/crio.sock",
        WHARF_CRI_WORK_ROOT: "/srv/wharf-cri",
        WHARF_CRI_NETWORK: "host",
      },
    });
    // The docker executor needs no CRI settings.
    expect(compileOptions(docker).backend).not.toHaveProperty("cri");
  });

  it.each([
    [{ WHARF_PROVISIONER_BACKEND: "docker" }, /WHARF_WORKER_IMAGE is required/],
    [{ WHARF_PROVISIONER_BACKEND: "k8s" }, /must be local, docker or kubernetes/],
    [{ WHARF_MAX_WORKERS: "0" }, /at least 1/],
    [{ WHARF_MAX_WORKERS: "many" }, /integer/],
    [{ WHARF_WORKER_CMD: "[1]" }, /array of strings/],
    [{ WHARF_POLL_INTERVAL: "soon" }, /duration/],
    [{ WHARF_PROVISIONER_TRIGGER_RATE: "-1" }, /WHARF_PROVISIONER_TRIGGER_RATE must be 0 or more/],
    [{ WHARF_STANDBY_WORKERS: "-1" }, /WHARF_STANDBY_WORKERS must be 0 or more/],
    [{ WHARF_PROVISIONER_TRIGGER_RATE: "lots" }, /integer/],
    [{ WHARF_PROVISIONER_MAX_URL: "100" }, /at least 256/],
    [
      { WHARF_PROVISIONER_BACKEND: "docker", WHARF_WORKER_IMAGE: "w", WHARF_WORKER_EXECUTOR: "local" },
      /WHARF_WORKER_EXECUTOR must be docker or cri with WHARF_PROVISIONER_BACKEND=docker, got "local"/,
    ],
    [
      {
        WHARF_PROVISIONER_BACKEND: "docker",
        WHARF_WORKER_IMAGE: "w",
        WHARF_WORKER_EXECUTOR: "cri",
        WHARF_CRI_ENDPOINT: "tcp://127.0.0.1:9000",
      },
      /WHARF_CRI_ENDPOINT must be unix:\/\/\/<socket path> .* mounted into worker containers\), got "tcp/,
    ],
    [
      {
        WHARF_PROVISIONER_BACKEND: "docker",
        WHARF_WORKER_IMAGE: "w",
        WHARF_WORKER_EXECUTOR: "cri",
        WHARF_CRI_WORK_ROOT: "builds",
      },
      /WHARF_CRI_WORK_ROOT must be an absolute path of the engine's host, got "builds"/,
    ],
    [{ WHARF_WORKER_EXECUTOR: "cri", WHARF_CRI_NETWORK: "bridge" }, /WHARF_CRI_NETWORK must be pod or host/],
  ])("rejects %o", (env, message) => {
    expect(() => compileOptions(env)).toThrow(ConfigError);
    expect(() => compileOptions(env)).toThrow(message);
  });

  it("reads the request limits; a trigger rate of 0 turns the limit off", () => {
    expect(
      compileOptions({ WHARF_PROVISIONER_TRIGGER_RATE: "0", WHARF_PROVISIONER_MAX_URL: "16384" }),
    ).toMatchObject({ triggerRate: 0, maxUrlLength: 16384 });
  });

  it("parses a command as words or a JSON array", () => {
    expect(parseCommand("X", "wharf worker serve")).toEqual(["wharf", "worker", "serve"]);
    expect(parseCommand("X", '["a b", "c"]')).toEqual(["a b", "c"]);
    expect(parseCommand("X", " ")).toBeUndefined();
  });
});

describe("startProvisioner and the CLI", () => {
  let tmp: string;
  let repo: string;
  let running: Awaited<ReturnType<typeof startProvisioner>>;
  const saved = { url: process.env.WHARF_PROVISIONER_URL, token: process.env.WHARF_PROVISIONER_TOKEN };

  beforeAll(async () => {
    tmp = await fs.mkdtemp(path.join(os.tmpdir(), "wharf-prov-svc-"));
    repo = path.join(tmp, "repo");
    await fs.mkdir(repo);
    await fs.writeFile(
      path.join(repo, ".wharf-ci.yml"),
      [
        "inputs:",
        "  - name: who",
        "    type: string",
        "    default: nobody",
        "build:",
        "  hi:",
        "    container:",
        "      image: wharf-test/busybox:latest",
        "      cmds:",
        `        - test "\${who}" = cli`,
        "",
      ].join("\n"),
    );
    const git = (...a: string[]) =>
      run("git", ["-c", "user.name=t", "-c", "user.email=t@example.invalid", ...a], { cwd: repo });
    await git("init", "-q", "-b", "master");
    await git("add", ".");
    await git("commit", "-q", "-m", "x");
    // PGlite on disk under WHARF_DATA_DIR, as `wharf provisioner serve` runs by default.
    const opts = compileOptions({
      WHARF_DATA_DIR: path.join(tmp, "data"),
      WHARF_PROVISIONER_HOST: "127.0.0.1",
      WHARF_PROVISIONER_PORT: "0",
      WHARF_PROVISIONER_TOKEN: "cli-token",
      WHARF_POLL_INTERVAL: "200ms",
    });
    running = await startProvisioner(opts);
    process.env.WHARF_PROVISIONER_URL = running.url;
    process.env.WHARF_PROVISIONER_TOKEN = "cli-token";
  }, 60_000);

  afterAll(async () => {
    for (const w of await running.provisioner.listWorkers())
      await running.provisioner.deleteWorker(w.workerId);
    await running?.close();
    process.env.WHARF_PROVISIONER_URL = saved.url;
    process.env.WHARF_PROVISIONER_TOKEN = saved.token;
    if (saved.url === undefined) delete process.env.WHARF_PROVISIONER_URL;
    if (saved.token === undefined) delete process.env.WHARF_PROVISIONER_TOKEN;
    await fs.rm(tmp, { recursive: true, force: true });
  });

  async function wharf(...args: string[]): Promise<string> {
    const program = new Command("wharf").exitOverride();
    registerProvisionerCommands(program);
    const chunks: string[] = [];
    const spy = vi.spyOn(process.stdout, "write").mockImplementation((chunk) => {
      chunks.push(String(chunk));
      return true;
    });
    try {
      await program.parseAsync(["node", "wharf", "provisioner", ...args]);
    } finally {
      spy.mockRestore();
    }
    return chunks.join("");
  }

  it("creates, lists and deletes workers through a running provisioner", async () => {
    const created = JSON.parse(
      await wharf("create", repo, "--build-ref", "42", "-i", "who=cli", "--json"),
    ) as Worker;
    expect(created).toMatchObject({ buildRef: 42, status: expect.any(String) });

    const deadline = Date.now() + 30_000;
    let workers: Worker[] = [];
    while (Date.now() < deadline) {
      workers = JSON.parse(await wharf("list", "--json", "--build-ref", "42")) as Worker[];
      if (workers[0]?.status === "Success" || workers[0]?.status === "Failed") break;
      await new Promise((r) => setTimeout(r, 100));
    }
    // Success proves the input reached the build through VARS.
    expect(workers[0]?.status).toBe("Success");
    expect(await wharf("list")).toMatch(new RegExp(`${created.workerId}\\s+42\\s+Success`));

    expect(await wharf("create", repo, "--build-ref", "42")).toMatch(/^exists /);
    expect(await wharf("delete", "--id", created.workerId)).toContain("deleted");
    expect(JSON.parse(await wharf("list", "--json"))).toEqual([]);
    await expect(wharf("delete", "--id", created.workerId)).rejects.toThrow(/404/);
  }, 60_000);
});
