import type { V1Pod, V1PodStatus } from "@kubernetes/client-node";
import { describe, expect, it } from "vitest";
import { podAddress, workerPodStatus } from "../src/index.js";

const pod = (status: V1PodStatus, labels: Record<string, string> = {}): V1Pod => ({
  metadata: { name: "wharf-worker-1-abcde", labels },
  spec: { containers: [{ name: "worker", image: "w" }] },
  status,
});
const scheduled = { type: "PodScheduled", status: "True" };

describe("workerPodStatus", () => {
  it("is Scheduling until the pod is placed, with the scheduler's message", () => {
    expect(workerPodStatus(pod({ phase: "Pending" }))).toEqual({ phase: "Scheduling", exitCode: null });
    expect(
      workerPodStatus(
        pod({
          phase: "Pending",
          conditions: [{ type: "PodScheduled", status: "False", message: "0/3 nodes are available" }],
        }),
      ),
    ).toEqual({ phase: "Scheduling", reason: "0/3 nodes are available", exitCode: null });
  });

  it("is Initializing while scheduled and pending, Running once running", () => {
    expect(workerPodStatus(pod({ phase: "Pending", conditions: [scheduled] })).phase).toBe("Initializing");
    expect(workerPodStatus(pod({ phase: "Running", conditions: [scheduled] })).phase).toBe("Running");
  });

  it("is Success or Failed when the pod ended, with the worker's exit code", () => {
    const ended = (phase: string, exitCode: number) =>
      pod({
        phase,
        containerStatuses: [
          {
            name: "worker",
            image: "w",
            imageID: "",
            ready: false,
            restartCount: 0,
            state: { terminated: { exitCode } },
          },
        ],
      });
    expect(workerPodStatus(ended("Succeeded", 0))).toEqual({ phase: "Success", exitCode: 0 });
    expect(workerPodStatus(ended("Failed", 137))).toEqual({
      phase: "Failed",
      exitCode: 137,
      reason: "worker exited with code 137",
    });
  });

  for (const reason of [
    "ImagePullBackOff",
    "ErrImagePull",
    "CrashLoopBackOff",
    "CreateContainerConfigError",
  ]) {
    it(`reports a pod stuck in ${reason} as Failed with the reason, although it is Pending`, () => {
      const s = workerPodStatus(
        pod({
          phase: "Pending",
          conditions: [scheduled],
          containerStatuses: [
            {
              name: "worker",
              image: "w",
              imageID: "",
              ready: false,
              restartCount: 0,
              state: { waiting: { reason, message: "details" } },
            },
          ],
        }),
      );
      expect(s).toEqual({ phase: "Failed", reason: `worker: ${reason}: details`, exitCode: null });
    });
  }

  it("names a failed clone init container", () => {
    const s = workerPodStatus(
      pod({
        phase: "Failed",
        initContainerStatuses: [
          {
            name: "git-clone",
            image: "g",
            imageID: "",
            ready: false,
            restartCount: 0,
            state: { terminated: { exitCode: 128, reason: "Error" } },
          },
        ],
      }),
    );
    expect(s).toEqual({ phase: "Failed", reason: "git-clone exited with code 128 (Error)", exitCode: null });
  });

  it("treats a lost node (phase Unknown) as Failed", () => {
    expect(workerPodStatus(pod({ phase: "Unknown" })).phase).toBe("Failed");
  });
});

describe("podAddress", () => {
  it("is podIP and the grpc-port label, IPv6 in brackets, none without an IP", () => {
    expect(podAddress(pod({ podIP: "10.1.2.3" }, { "wharf.iver.com/grpc-port": "6000" }))).toBe(
      "10.1.2.3:6000",
    );
    expect(podAddress(pod({ podIP: "fd00::5" }))).toBe("[fd00::5]:5010");
    expect(podAddress(pod({ phase: "Pending" }))).toBeUndefined();
  });
});
