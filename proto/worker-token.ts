import { createHmac } from "node:crypto";

/**
 * The bearer token one worker requires on its gRPC API: derived from the key that the
 * provisioner and the aggregator share (WHARF_WORKER_TOKEN) and the worker's id, so each
 * worker holds only its own token, a leaked one opens one worker, and nothing is stored.
 */
export function workerTokenFor(key: string, workerId: string): string {
  return createHmac("sha256", key).update(`wharf-worker:${workerId}`).digest("base64url");
}
