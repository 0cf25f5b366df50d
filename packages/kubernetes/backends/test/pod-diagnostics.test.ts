import type { CoreV1Api, V1Pod } from "@kubernetes/client-node";
import { describe, expect, it } from "vitest";
import { podDiagnostics } from "../src/index.js";

// The two reads podDiagnostics makes, answered as a 1.20 API server answered them for a pod
// whose clone failed on a node without cluster DNS (issue 15, fault 6).
function api(): CoreV1Api {
  return {
    listNamespacedEvent: async () => ({
      items: [
        {
          type: "Warning",
          reason: "MissingClusterDNS",
          message: "pod: kubelet does not have ClusterDNS IP configured",
        },
        { type: "Normal", reason: "Pulled", message: "Container image already present" },
        { type: "Warning", reason: "BackOff", message: "Back-off restarting failed container" },
      ],
    }),
    readNamespacedPodLog: async ({ container }: { container: string }) =>
      container === "git-clone"
        ? "Cloning into '/wharf/source/repo'...\nfatal: repository not exported\n"
        : "",
  } as unknown as CoreV1Api;
}

const pod: V1Pod = {
  metadata: { name: "wharf-worker-1-abc", namespace: "ci" },
  status: {
    initContainerStatuses: [
      {
        name: "git-clone",
        image: "w",
        imageID: "",
        ready: false,
        restartCount: 0,
        state: { terminated: { exitCode: 128 } },
      },
    ],
    containerStatuses: [
      {
        name: "worker",
        image: "w",
        imageID: "",
        ready: false,
        restartCount: 0,
        state: { waiting: { reason: "PodInitializing" } },
      },
    ],
  },
};

describe("podDiagnostics", () => {
  it("leads with the failed container's log, then the warnings, without the node's DNS notice", async () => {
    expect((await podDiagnostics(api(), pod)).split("\n")).toEqual([
      "git-clone log (exit 128):",
      "Cloning into '/wharf/source/repo'...",
      "fatal: repository not exported",
      "event BackOff: Back-off restarting failed container",
    ]);
  });
});
