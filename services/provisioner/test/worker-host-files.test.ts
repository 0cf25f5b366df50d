import { describe, expect, it } from "vitest";
import { compileOptions, WORKER_APPEND_CERT_FILE, WORKER_SECRETS_DIR } from "../src/index.js";

// WHARF_SECRETS_DIR and WHARF_APPEND_CERT_FILE are host paths of the provisioner's machine: a
// local worker reads them there, a docker worker gets them mounted read-only.
describe("compileOptions: the docker executor's host files", () => {
  const env = { WHARF_SECRETS_DIR: "secrets", WHARF_APPEND_CERT_FILE: "/etc/ssl/org/root.crt" };

  it("passes them to local workers as absolute host paths", () => {
    const { backend } = compileOptions({ ...env, WHARF_WORKER_EXECUTOR: "docker" }, "/srv");
    expect(backend.workerEnv).toMatchObject({
      WHARF_SECRETS_DIR: "/srv/secrets",
      WHARF_APPEND_CERT_FILE: "/etc/ssl/org/root.crt",
    });
  });

  it("mounts them read-only into docker workers, whose env names the mount points", () => {
    const { backend } = compileOptions(
      {
        ...env,
        WHARF_PROVISIONER_BACKEND: "docker",
        WHARF_WORKER_IMAGE: "wharf/worker:1",
        WHARF_WORKER_BINDS: "/a:/b",
      },
      "/srv",
    );
    if (backend.kind !== "docker") throw new Error("docker backend expected");
    expect(backend.binds).toEqual([
      "/a:/b",
      `/srv/secrets:${WORKER_SECRETS_DIR}:ro`,
      `/etc/ssl/org/root.crt:${WORKER_APPEND_CERT_FILE}:ro`,
    ]);
    expect(backend.workerEnv).toMatchObject({
      WHARF_SECRETS_DIR: WORKER_SECRETS_DIR,
      WHARF_APPEND_CERT_FILE: WORKER_APPEND_CERT_FILE,
    });
  });

  it("are unset by default: no env, no mount", () => {
    const { backend } = compileOptions(
      { WHARF_PROVISIONER_BACKEND: "docker", WHARF_WORKER_IMAGE: "w:1" },
      "/srv",
    );
    if (backend.kind !== "docker") throw new Error("docker backend expected");
    expect(backend.binds).toEqual([]);
    expect(backend.workerEnv.WHARF_SECRETS_DIR).toBeUndefined();
  });
});
