import * as grpc from "@grpc/grpc-js";
import { loadWorkerProto, WorkerStatus, workerTokenFor } from "@wharf/proto";
import type { WorkerStatus as ApiStatus } from "./schemas.js";

/** What the provisioner learns from asking a worker. */
export interface ProbedStatus {
  status: Extract<ApiStatus, "Running" | "Success" | "Failed" | "Cancelled">;
  finished: boolean;
  message: string;
}

/** Asks a worker for its build status; null when it does not answer (yet). */
export type StatusProbe = (address: string, workerId: string) => Promise<ProbedStatus | null>;

interface SummaryResponse {
  status: number;
  finished: boolean;
  message: string;
}

function toApiStatus(summary: SummaryResponse): ProbedStatus["status"] {
  if (!summary.finished) return "Running";
  if (summary.status === WorkerStatus.SUCCESS) return "Success";
  if (summary.status === WorkerStatus.CANCELLED) return "Cancelled";
  return "Failed";
}

/**
 * A probe over `WorkerExtras/GetBuildSummary` with a short deadline. One channel
 * per call: probes are seconds apart and a stale channel to a worker that went
 * away would only hold sockets.
 */
export function grpcStatusProbe(opts: { tokenKey?: string; timeoutMs?: number } = {}): StatusProbe {
  const { WorkerExtras } = loadWorkerProto();
  return (address, workerId) =>
    new Promise((resolve) => {
      const client = new WorkerExtras(address, grpc.credentials.createInsecure());
      const md = new grpc.Metadata();
      if (opts.tokenKey) md.set("authorization", `Bearer ${workerTokenFor(opts.tokenKey, workerId)}`);
      const deadline = new Date(Date.now() + (opts.timeoutMs ?? 2000));
      const call = client.GetBuildSummary as (
        req: object,
        md: grpc.Metadata,
        o: grpc.CallOptions,
        cb: (err: grpc.ServiceError | null, res?: SummaryResponse) => void,
      ) => void;
      call.call(client, {}, md, { deadline }, (err, res) => {
        client.close();
        if (err || !res) return resolve(null);
        resolve({ status: toApiStatus(res), finished: res.finished, message: res.message });
      });
    });
}
