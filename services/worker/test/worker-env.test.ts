import { ConfigError } from "@wharf/config";
import { workerContainerSpec } from "@wharf/docker-backends";
import {
  readWorkerEnv,
  toWorkerEnv,
  WORKER_ENV,
  type WorkerEnv,
  WorkerEnvError,
} from "@wharf/proto/worker-env";
import { type BuildRequest, workerEnv } from "@wharf/provisioner";
import { describe, expect, it } from "vitest";
import { compileWorkerOptions } from "../src/index.js";

// The provisioner → worker env contract (@wharf/proto/worker-env): what every backend writes
// is what the worker reads, field for field.

const FULL: WorkerEnv = {
  buildId: 42,
  workerId: "w-42",
  instance: "prod",
  projectId: "7",
  gitUrl: "https://git.example.invalid/group/repo.git",
  gitBranch: "feature/x",
  gitToken: "t0ken",
  repoBranch: "feature/x",
  repoGroup: "group",
  repoName: "repo",
  environment: "dev",
  runStages: "build",
  vars: { greeting: "hi there", json: '{"a":[1,2]}', empty: "", quote: 'it\'s "q"\n' },
  buildTimeoutMs: 90_500,
  executor: "docker",
  host: "127.0.0.1",
  port: 6010,
  httpPort: 6011,
  dataDir: "/var/lib/w",
  sourceDir: "/src",
  releaseGraceMs: 14_000,
  workerToken: "worker-t0ken",
  terminationMessagePath: "/dev/termination-log",
  eventsUrl: "http://127.0.0.1:5009",
  traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
};

const REQUEST: BuildRequest = {
  buildId: 42,
  instance: "prod",
  projectId: 7,
  gitUrl: "https://git.example.invalid/group/repo.git",
  gitBranch: "main",
  repoBranch: "main",
  environment: "dev",
  runStages: "ALL",
  vars: { greeting: "hi" },
  gitToken: "t0ken",
};

describe("the worker env contract", () => {
  it("reads back every field it writes", () => {
    const env = toWorkerEnv(FULL);
    expect(Object.keys(env).sort()).toEqual(Object.values(WORKER_ENV).sort());
    expect(readWorkerEnv(env)).toEqual(FULL);
  });

  it("writes nothing for unset or empty fields and reads empty values as unset", () => {
    expect(toWorkerEnv({ buildId: 1, instance: "", gitBranch: undefined })).toEqual({
      WHARF_BUILD_REF: "1",
    });
    expect(readWorkerEnv({ WHARF_BUILD_REF: "1", WHARF_INSTANCE: "", VARS: "" })).toEqual({ buildId: 1 });
  });

  it("takes wharf-api's BUILD_REF for a worker started by hand, and the operators' duration forms", () => {
    expect(readWorkerEnv({ BUILD_REF: "9", WHARF_BUILD_TIMEOUT: "1h30m" })).toEqual({
      buildId: 9,
      buildTimeoutMs: 90 * 60_000,
    });
  });

  it("refuses a build id that is not wharf-api's, naming the key, instead of running a build NaN", () => {
    for (const [env, key] of [
      [{ WHARF_BUILD_REF: "run-1764800000000" }, "WHARF_BUILD_REF"],
      [{ WHARF_BUILD_REF: "0" }, "WHARF_BUILD_REF"],
      [{ WHARF_BUILD_REF: "-3" }, "WHARF_BUILD_REF"],
      [{ WHARF_BUILD_REF: "4.5" }, "WHARF_BUILD_REF"],
      [{ WHARF_BUILD_REF: "99999999999999999" }, "WHARF_BUILD_REF"],
      [{ BUILD_REF: "abc" }, "BUILD_REF"],
    ] as const) {
      expect(() => readWorkerEnv(env)).toThrow(WorkerEnvError);
      expect(() => readWorkerEnv(env)).toThrow(new RegExp(`^${key} must be a wharf-api build id`));
    }
    // WHARF_BUILD_REF wins; wharf-api's name is only read without it.
    expect(readWorkerEnv({ WHARF_BUILD_REF: "7", BUILD_REF: "8" })).toEqual({ buildId: 7 });
    expect(() => compileWorkerOptions({ WHARF_BUILD_REF: "abc", WHARF_SOURCE_DIR: "/src" })).toThrow(
      ConfigError,
    );
  });

  it("names the key of a value it cannot use, without quoting VARS", () => {
    const bad: [Record<string, string>, RegExp][] = [
      [{ WHARF_BUILD_REF: "1", WHARF_BUILD_TIMEOUT: "soon" }, /^WHARF_BUILD_TIMEOUT: invalid duration/],
      [{ WHARF_BUILD_REF: "1", WHARF_WORKER_PORT: "50x" }, /^WHARF_WORKER_PORT must be an integer/],
      [
        { WHARF_BUILD_REF: "1", WHARF_EXECUTOR: "vm" },
        /^WHARF_EXECUTOR must be local, docker, kubernetes or cri/,
      ],
      [{ WHARF_BUILD_REF: "1", VARS: "- s3cr3t-value" }, /^VARS must be a map/],
    ];
    for (const [env, message] of bad) {
      expect(() => readWorkerEnv(env)).toThrow(WorkerEnvError);
      expect(() => readWorkerEnv(env)).toThrow(message);
      expect(() => readWorkerEnv(env)).not.toThrow(/s3cr3t-value/);
    }
    // The worker turns them into its configuration errors, and requires a build ref.
    expect(() => compileWorkerOptions({ WHARF_SOURCE_DIR: "/src" })).toThrow(/^WHARF_BUILD_REF is required/);
    expect(() => compileWorkerOptions({ WHARF_BUILD_REF: "1", WHARF_BUILD_TIMEOUT: "soon" })).toThrow(
      ConfigError,
    );
  });

  it("gives the worker the build the provisioner was asked for, with the provisioner's build timeout", () => {
    const spec = { workerId: "w-42", name: "wharf-worker-42-w-42", request: REQUEST };
    const env = workerEnv(
      spec,
      {
        buildTimeoutMs: 120_000,
        workerToken: "key",
        stopGraceMs: 5_000,
        extraEnv: { WHARF_LOG_LEVEL: "debug" },
      },
      { executor: "local", host: "127.0.0.1", port: 6010, httpPort: 6011, dataDir: "/tmp/w" },
    );
    expect(env.WHARF_LOG_LEVEL).toBe("debug");
    const opts = compileWorkerOptions(env);
    expect(opts).toMatchObject({
      buildId: 42,
      workerId: "w-42",
      projectId: "7",
      source: { kind: "git", url: REQUEST.gitUrl, branch: "main", token: "t0ken" },
      environment: "dev",
      inputs: { greeting: "hi" },
      executor: "local",
      host: "127.0.0.1",
      port: 6010,
      httpPort: 6011,
      dataDir: "/tmp/w",
      buildTimeoutMs: 120_000,
      releaseGraceMs: 4_000,
      token: expect.any(String),
    });
    expect(opts.stage).toBeUndefined();
  });

  it("is what the Docker backend's container spec carries", () => {
    const spec = { workerId: "w-42", name: "wharf-worker-42-w-42", request: REQUEST };
    const body = workerContainerSpec(
      spec,
      { image: "img", buildTimeoutMs: 60_000 },
      { grpc: 6000, http: 6001 },
    );
    const env = Object.fromEntries(
      (body.Env ?? []).map((e) => [e.slice(0, e.indexOf("=")), e.slice(e.indexOf("=") + 1)]),
    );
    expect(readWorkerEnv(env)).toMatchObject({
      buildId: 42,
      buildTimeoutMs: 60_000,
      executor: "docker",
      port: 6000,
    });
  });
});
