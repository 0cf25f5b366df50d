import { WORKER_ENV } from "@wharf/proto/worker-env";
import { describe, expect, it } from "vitest";
import { inheritedEnv } from "../src/worker-command.js";

describe("the env a local worker inherits from its provisioner", () => {
  it("keeps the host's variables and the log level, not the provisioner's settings nor any build's", () => {
    const parent: Record<string, string> = {
      PATH: "/usr/bin",
      HOME: "/home/ci",
      WHARF_LOG_LEVEL: "debug",
      WHARF_PROVISIONER_TOKEN: "prov-t0ken",
      DATABASE_URL: "postgres://u:p@127.0.0.1/db",
      PGPASSWORD: "pg-secret",
      GIT_SSH_COMMAND: "ssh -i key",
      BUILD_REF: "9",
    };
    // Every key of the worker env contract, as a shell that started the provisioner might hold it.
    for (const key of Object.values(WORKER_ENV)) parent[key] = "from-the-parent";
    expect(inheritedEnv(parent)).toEqual({ PATH: "/usr/bin", HOME: "/home/ci", WHARF_LOG_LEVEL: "debug" });
  });
});
