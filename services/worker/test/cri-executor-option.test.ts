import os from "node:os";
import path from "node:path";
import { createLogger } from "@wharf/config";
import { describe, expect, it } from "vitest";
import { createExecutor } from "../src/executor-factory.js";
import { compileWorkerOptions } from "../src/index.js";

describe("WHARF_EXECUTOR=cri", () => {
  const options = (env: Record<string, string> = {}) =>
    compileWorkerOptions({ WHARF_BUILD_REF: "1", WHARF_SOURCE_DIR: "/tmp", WHARF_EXECUTOR: "cri", ...env });

  it("defaults to containerd's socket, a pod network of the build's own and a work root in the temp dir", () => {
    expect(options().cri).toEqual({
      endpoint: "unix:///run/containerd/containerd.sock",
      network: "pod",
      workRoot: path.join(os.tmpdir(), "wharf-cri-builds"),
    });
    expect(
      options({
        WHARF_CRI_ENDPOINT: "unix:///var/run/crio/crio.sock",
        WHARF_CRI_NETWORK: "host",
        WHARF_CRI_WORK_ROOT: "/srv/wharf-cri",
      }).cri,
    ).toEqual({
      endpoint: "unix:///var/run/crio/crio.sock",
      network: "host",
      workRoot: "/srv/wharf-cri",
    });
  });

  it("puts the builds under WHARF_CRI_WORK_ROOT, which must be absolute", async () => {
    const executor = await createExecutor(
      options({
        WHARF_CRI_ENDPOINT: "unix:///nonexistent/wharf-cri.sock",
        WHARF_CRI_WORK_ROOT: "/srv/wharf-cri",
      }),
      createLogger("test"),
    );
    expect((executor as unknown as { workRoot: string }).workRoot).toBe("/srv/wharf-cri");
    (executor as unknown as { close(): void }).close();
    expect(() => options({ WHARF_CRI_WORK_ROOT: "builds" })).toThrow(
      /WHARF_CRI_WORK_ROOT must be an absolute path of the runtime's host, got "builds"/,
    );
  });

  it("refuses a network it does not know", () => {
    expect(() => options({ WHARF_CRI_NETWORK: "bridge" })).toThrow(
      /WHARF_CRI_NETWORK must be pod or host, got "bridge"/,
    );
  });

  it("builds a CriExecutor on WHARF_CRI_ENDPOINT, which says plainly when nothing answers there", async () => {
    const executor = await createExecutor(
      options({ WHARF_CRI_ENDPOINT: "unix:///nonexistent/wharf-cri.sock" }),
      createLogger("test"),
    );
    expect(executor.kind).toBe("cri");
    await expect(executor.ping()).rejects.toThrow(
      /CRI runtime at unix:\/\/\/nonexistent\/wharf-cri.sock does not answer/,
    );
    (executor as unknown as { close(): void }).close();
  });

  it("pulls step images of the worker's own registry (WHARF_REGISTRY_*) with its credentials, no others", async () => {
    const executor = await createExecutor(
      options({
        WHARF_CRI_ENDPOINT: "unix:///nonexistent/wharf-cri.sock",
        WHARF_REGISTRY_URL: "registry.example.test:5000",
        WHARF_REGISTRY_USER: "ci",
        WHARF_REGISTRY_PASSWORD: "pw-4e1b-secret",
      }),
      createLogger("test"),
    );
    const pullAuth = (executor as unknown as { pullAuth: (image: string) => unknown }).pullAuth;
    expect(pullAuth("registry.example.test:5000/team/app:1")).toEqual({
      username: "ci",
      password: "pw-4e1b-secret",
      serverAddress: "registry.example.test:5000",
    });
    for (const other of ["busybox", "team/app:1", "other.test/team/app:1", "registry.example.test/app:1"])
      expect(pullAuth(other)).toBeUndefined();
    (executor as unknown as { close(): void }).close();
  });
});
