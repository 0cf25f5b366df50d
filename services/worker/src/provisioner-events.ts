import { request } from "node:http";
import { request as requestTls } from "node:https";
import { setTimeout as sleep } from "node:timers/promises";
import type { Logger } from "@wharf/config";
import { type WorkerEvent, workerEventsPath } from "@wharf/proto";
import type { BuildSummary } from "@wharf/result-store";

const ATTEMPTS = 4;
const TIMEOUT_MS = 3_000;

/** The `ended` event of a finished build (the provisioner's words for its status). */
export function endedEvent(summary: Pick<BuildSummary, "status" | "message">): WorkerEvent {
  const status =
    summary.status === "SUCCESS" ? "Success" : summary.status === "CANCELLED" ? "Cancelled" : "Failed";
  return { event: "ended", status, message: summary.message };
}

/**
 * Tells the provisioner at `baseUrl` about this worker (see `WorkerEvent`): a few tries a
 * short while apart, then gives up with a warning. Never throws: a lost event costs only
 * time, the provisioner's reconcile probes the worker anyway. On `node:http` rather than
 * `fetch`, which would load undici (~10 ms) into every worker's start.
 */
export async function tellProvisioner(
  baseUrl: string,
  workerId: string,
  token: string | undefined,
  event: WorkerEvent,
  log: Logger,
): Promise<boolean> {
  const url = new URL(workerEventsPath(workerId), baseUrl);
  const body = JSON.stringify(event);
  let lastError = "";
  for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
    if (attempt > 0) await sleep(200 * 2 ** attempt);
    try {
      const status = await post(url, body, token);
      if (status === 204) return true;
      lastError = `HTTP ${status}`;
      // The provisioner does not know this worker, or refuses the token: trying again will not help.
      if (status >= 400 && status < 500 && status !== 429) break;
    } catch (err) {
      lastError = (err as Error).message;
    }
  }
  log.warn({ event: event.event, error: lastError }, "could not tell the provisioner; it will probe instead");
  return false;
}

function post(url: URL, body: string, token: string | undefined): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = (url.protocol === "https:" ? requestTls : request)(
      url,
      {
        method: "POST",
        timeout: TIMEOUT_MS,
        // No kept-alive socket: two requests per build gain nothing from it, and an idle one
        // held to a provisioner would keep that provisioner's close waiting.
        agent: false,
        headers: {
          "content-type": "application/json",
          "content-length": Buffer.byteLength(body),
          ...(token ? { authorization: `Bearer ${token}` } : {}),
        },
      },
      (res) => {
        res.resume();
        res.once("end", () => resolve(res.statusCode ?? 0));
      },
    );
    req.once("timeout", () => req.destroy(new Error(`no answer in ${TIMEOUT_MS} ms`)));
    req.once("error", reject);
    req.end(body);
  });
}
