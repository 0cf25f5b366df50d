import { WorkerStatus } from "@wharf/proto";
import type { ApiBuildStatus } from "./wharf-api-client.js";

const rank: Record<ApiBuildStatus, number> = { Scheduling: 0, Running: 1, Completed: 2, Failed: 2 };

/** wharf-api's build status for a worker status, as wharf-cmd maps it. */
export function apiStatusOf(status: number): ApiBuildStatus | undefined {
  switch (status) {
    case WorkerStatus.PENDING:
    case WorkerStatus.SCHEDULING:
      return "Scheduling";
    case WorkerStatus.INITIALIZING:
    case WorkerStatus.RUNNING:
      return "Running";
    case WorkerStatus.SUCCESS:
      return "Completed";
    case WorkerStatus.FAILED:
    case WorkerStatus.CANCELLED:
      return "Failed";
    default:
      return undefined;
  }
}

export function isTerminal(status: ApiBuildStatus | null | undefined): boolean {
  return status === "Completed" || status === "Failed";
}

/**
 * True when sending `next` after `sent` moves the build forward. The build's
 * status only ever advances (Scheduling → Running → Completed|Failed), so a
 * step-level wobble or a replayed event can never make it bounce back.
 */
export function advancesStatus(sent: ApiBuildStatus | null, next: ApiBuildStatus): boolean {
  if (sent === null) return true;
  return rank[next] > rank[sent];
}
