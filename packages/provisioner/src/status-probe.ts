import { StepStatusCode, workerTokenFor } from "@wharf/proto";
import { WorkerConnection } from "@wharf/worker-rpc";
import type { WorkerStatus } from "./schemas.js";

/** What the provisioner learns from asking a worker. */
export interface ProbedStatus {
  status: Extract<WorkerStatus, "Running" | "Success" | "Failed" | "Cancelled">;
  finished: boolean;
  message: string;
}

/** Asks a worker for its build status; null when it does not answer (yet). */
export type StatusProbe = (address: string, workerId: string) => Promise<ProbedStatus | null>;

function toApiStatus(summary: { status: number; finished: boolean }): ProbedStatus["status"] {
  if (!summary.finished) return "Running";
  if (summary.status === StepStatusCode.SUCCESS) return "Success";
  if (summary.status === StepStatusCode.CANCELLED) return "Cancelled";
  return "Failed";
}

/**
 * A probe over `WorkerExtras/GetBuildSummary` with a short deadline and no wait for a
 * connection. One connection per call: probes are seconds apart and a stale channel to a
 * worker that went away would only hold sockets.
 */
export function grpcStatusProbe(opts: { tokenKey?: string; timeoutMs?: number } = {}): StatusProbe {
  return async (address, workerId) => {
    const token = opts.tokenKey ? workerTokenFor(opts.tokenKey, workerId) : undefined;
    const connection = new WorkerConnection(address, { token });
    try {
      const summary = await connection.summary(opts.timeoutMs ?? 2000, false);
      return { status: toApiStatus(summary), finished: summary.finished, message: summary.message };
    } catch {
      return null;
    } finally {
      connection.close();
    }
  };
}
