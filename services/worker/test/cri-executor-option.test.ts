import { createLogger } from "@wharf/config";
import { describe, expect, it } from "vitest";
import { createExecutor } from "../src/executor-factory.js";
import { compileWorkerOptions } from "../src/index.js";

describe("WHARF_EXECUTOR=cri", () => {
  const options = (env: Record<string, string> = {}) =>
    compileWorkerOptions({ WHARF_BUILD_REF: "1", WHARF_SOURCE_DIR: "/tmp", WHARF_EXECUTOR: "cri", ...env });

  it("defaults to containerd's socket and a pod network of the build's own", () => {
    expect(options().cri).toEqual({ endpoint: "unix:///run/containerd/containerd.sock", network: "pod" });
    expect(
      options({ WHARF_CRI_ENDPOINT: "unix:///var/run/crio/crio.sock", WHARF_CRI_NETWORK: "host" }).cri,
    ).toEqual({
      endpoint: "unix:///var/run/crio/crio.sock",
      network: "host",
    });
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
});
