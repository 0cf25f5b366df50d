import type { V1Pod } from "@kubernetes/client-node";
import { WORKER_CONTAINER, WORKER_POD_LABELS } from "@wharf/kube-manifests";
import { decodeWorkerExitReport, type WorkerExitReport } from "@wharf/proto";

/** The build result a worker pod's container left as its termination message (WorkerExitReport). */
export function workerExitReport(pod: V1Pod): WorkerExitReport | undefined {
  const worker = pod.status?.containerStatuses?.find((c) => c.name === WORKER_CONTAINER);
  return decodeWorkerExitReport(worker?.state?.terminated?.message);
}

/** How long a deleted worker pod's report is kept: many reconcile rounds, few memory. */
const KEEP_MS = 10 * 60_000;
const MAX_KEPT = 10_000;

/**
 * The exit reports of worker pods that are gone. A released worker exits and its pod is
 * deleted (by the aggregator) within a moment, usually between two of the provisioner's
 * reconcile rounds: without this the provisioner would find the worker gone and record a
 * successful build as lost. Fed from the informer's last sight of each pod.
 */
export class ExitReportMemory {
  private readonly reports = new Map<string, { report: WorkerExitReport; at: number }>();

  /** Call on every pod change and deletion the watch sees. */
  observe(pod: V1Pod): void {
    const workerId = pod.metadata?.labels?.[WORKER_POD_LABELS.workerId];
    const report = workerId ? workerExitReport(pod) : undefined;
    if (!workerId || !report) return;
    this.reports.delete(workerId);
    this.reports.set(workerId, { report, at: Date.now() });
    // Insertion order is age order: drop the oldest past the bound.
    for (const id of this.reports.keys()) {
      if (this.reports.size <= MAX_KEPT) break;
      this.reports.delete(id);
    }
  }

  /** Reports of workers not in `present`, younger than KEEP_MS. */
  gone(present: Set<string>): { workerId: string; report: WorkerExitReport }[] {
    const cutoff = Date.now() - KEEP_MS;
    const out: { workerId: string; report: WorkerExitReport }[] = [];
    for (const [workerId, { report, at }] of this.reports) {
      if (at < cutoff) this.reports.delete(workerId);
      else if (!present.has(workerId)) out.push({ workerId, report });
    }
    return out;
  }
}
