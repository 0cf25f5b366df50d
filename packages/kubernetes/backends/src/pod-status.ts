import type { V1ContainerStatus, V1Pod } from "@kubernetes/client-node";
import { STUCK_WAITING_REASONS, WORKER_CONTAINER } from "@wharf/kube-manifests";

/** A worker pod's lifecycle in the provisioner's words. */
export type WorkerPodPhase = "Scheduling" | "Initializing" | "Running" | "Success" | "Failed";

export interface WorkerPodStatus {
  phase: WorkerPodPhase;
  /** Why it failed or is not running yet: the kubelet's reason and message. */
  reason?: string;
  /** Exit code of the worker container once it ended. */
  exitCode: number | null;
}

export { STUCK_WAITING_REASONS };

function stuck(statuses: V1ContainerStatus[] | undefined): string | undefined {
  for (const s of statuses ?? []) {
    const waiting = s.state?.waiting;
    if (waiting?.reason && STUCK_WAITING_REASONS.has(waiting.reason)) {
      return `${s.name}: ${waiting.reason}${waiting.message ? `: ${waiting.message}` : ""}`;
    }
  }
  return undefined;
}

function failedInit(statuses: V1ContainerStatus[] | undefined): string | undefined {
  for (const s of statuses ?? []) {
    const t = s.state?.terminated;
    if (t && t.exitCode !== 0) {
      return `${s.name} exited with code ${t.exitCode}${t.reason ? ` (${t.reason})` : ""}`;
    }
  }
  return undefined;
}

/**
 * Derives the worker's status from pod phase and container states. A pod that can never
 * start (image pull, config error, failed clone) is Failed with the reason, although
 * Kubernetes still calls it Pending.
 */
export function workerPodStatus(pod: V1Pod): WorkerPodStatus {
  const status = pod.status;
  const worker = status?.containerStatuses?.find((s) => s.name === WORKER_CONTAINER);
  const exitCode = worker?.state?.terminated?.exitCode ?? null;
  const blocked = stuck(status?.initContainerStatuses) ?? stuck(status?.containerStatuses);
  if (blocked) return { phase: "Failed", reason: blocked, exitCode };
  switch (status?.phase) {
    case "Succeeded":
      return { phase: "Success", exitCode };
    case "Failed": {
      const reason =
        failedInit(status.initContainerStatuses) ??
        (exitCode !== null ? `worker exited with code ${exitCode}` : undefined) ??
        status.reason ??
        status.message;
      return { phase: "Failed", exitCode, ...(reason ? { reason } : {}) };
    }
    case "Running":
      return { phase: "Running", exitCode };
    case "Unknown":
      return { phase: "Failed", reason: "pod state Unknown (node lost)", exitCode };
    default: {
      const scheduled = status?.conditions?.find((c) => c.type === "PodScheduled");
      if (scheduled?.status !== "True") {
        return {
          phase: "Scheduling",
          exitCode,
          ...(scheduled?.message ? { reason: scheduled.message } : {}),
        };
      }
      return { phase: "Initializing", exitCode };
    }
  }
}
