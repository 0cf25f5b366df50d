import { containerStep, makeBuild, removeSource } from "@wharf/executor/testing";
import { describe, expect, it } from "vitest";
import { NamespaceMode } from "../src/cri-client.js";
import { buildDirs, sandboxConfig, stepContainerConfig } from "../src/cri-spec.js";

describe("CRI sandbox and container configs", () => {
  it("labels the sandbox and each step container for cleanup, and puts the network where asked", async () => {
    const build = await makeBuild(
      {},
      { buildRef: "Feature/X", labels: { "wharf.iver.com/project-id": "7" } },
    );
    try {
      const owner = { "wharf.iver.com/cri-owner": "h/1/2" };
      const pod = sandboxConfig(build, { network: "pod", logDirectory: "/l", ownerLabels: owner });
      expect(pod.labels).toMatchObject({
        "wharf.iver.com/build-ref": "Feature/X",
        "wharf.iver.com/created-by": "wharf-executor",
        "wharf.iver.com/project-id": "7",
        ...owner,
      });
      expect(pod.metadata.namespace).toBe("wharf");
      expect(pod.linux.securityContext.namespaceOptions).toEqual({
        network: NamespaceMode.POD,
        pid: 0,
        ipc: 0,
      });
      const host = sandboxConfig(build, { network: "host", logDirectory: "/l", ownerLabels: owner });
      expect(host.linux.securityContext.namespaceOptions.network).toBe(NamespaceMode.NODE);
      expect(host.hostname).toBe("");
      expect(
        sandboxConfig(build, { network: "pod", logDirectory: "/l", ownerLabels: owner }).metadata.uid,
      ).not.toBe(pod.metadata.uid);

      const step = containerStep(4, ["echo a", "echo b"], { image: "busybox:1", name: "Build it" });
      const dirs = buildDirs("/root", build.buildRef);
      const c = stepContainerConfig(
        build,
        step as never,
        { B: "2" },
        {
          network: "pod",
          workspaceHostPath: dirs.workspace,
          workspacePath: "/workspace",
          ownerLabels: owner,
        },
      );
      expect(c.command).toEqual(["/bin/sh", "-c", "set -e\necho a\necho b"]);
      expect(c.mounts).toEqual([{ containerPath: "/workspace", hostPath: dirs.workspace, readonly: false }]);
      expect(c.workingDir).toBe("/workspace");
      expect(c.labels).toMatchObject({
        "wharf.iver.com/step-id": "4",
        "wharf.iver.com/step-name": "Build it",
        ...owner,
      });
      expect(c.logPath).toMatch(/^step4-[0-9a-f]{6}\.log$/);
      expect(dirs.workspace.startsWith("/root/feature-x-")).toBe(true);
    } finally {
      await removeSource(build);
    }
  });
});
