import { StepStatusCode } from "@wharf/proto";
import type { WharfApiBuildStatus } from "@wharf/proto/wharf-api";

const rank: Record<WharfApiBuildStatus, number> = { Scheduling: 0, Running: 1, Completed: 2, Failed: 2 };

/** wharf-api's build status for a worker status, as wharf-cmd maps it. */
export function apiStatusOf(status: number): WharfApiBuildStatus | undefined {
  switch (status) {
    case StepStatusCode.PENDING:
    case StepStatusCode.SCHEDULING:
      return "Scheduling";
    case StepStatusCode.INITIALIZING:
    case StepStatusCode.RUNNING:
      return "Running";
    case StepStatusCode.SUCCESS:
      return "Completed";
    case StepStatusCode.FAILED:
    case StepStatusCode.CANCELLED:
      return "Failed";
    default:
      return undefined;
  }
}

/**
 * True when sending `next` after `sent` moves the build forward. The build's
 * status only ever advances (Scheduling → Running → Completed|Failed), so a
 * step-level wobble or a replayed event can never make it bounce back.
 */
export function advancesStatus(sent: WharfApiBuildStatus | null, next: WharfApiBuildStatus): boolean {
  if (sent === null) return true;
  return rank[next] > rank[sent];
}
