/**
 * The worker → provisioner hand-off: a worker started with WORKER_EVENTS_URL_ENV tells that
 * URL when its gRPC serves (`ready`) and when its build ended (`ended`), by
 * `POST <url>/api/worker/<workerId>/events` with its own gRPC token as the bearer token
 * (`workerTokenFor`). The provisioner then need not probe it each second; its periodic
 * reconcile still probes, slower, in case an event was lost.
 */
export const WORKER_EVENTS_URL_ENV = "WHARF_WORKER_EVENTS_URL";

export type WorkerEvent =
  | { event: "ready" }
  | { event: "ended"; status: "Success" | "Failed" | "Cancelled"; message: string };

/** The path a worker posts its events to, below the provisioner's base URL. */
export function workerEventsPath(workerId: string): string {
  return `/api/worker/${encodeURIComponent(workerId)}/events`;
}
