import { WHARF_LABELS } from "./labels.js";

/**
 * Which build a worker container serves. A container started for its build carries it in its
 * labels (worker id, build ref). A standby container (WHARF_LABELS.standby) was started before
 * its build was known, and labels cannot change once a container exists: the build that takes
 * it renames it to `assignedStandbyName`, and its name is then what says whose it is. The
 * provisioner's Docker backend, the aggregator's Docker discovery and the Docker janitor all
 * read it here. (A subpath of its own: no gRPC is loaded for it.)
 */
export interface WorkerIdentity {
  workerId: string;
  /** The build id as text (the label's, or the name's digits), checked by the reader. */
  buildIdText: string;
}

/** What a container list gives of one container: enough to tell whose worker it is. */
export interface ListedWorkerContainer {
  Labels: Record<string, string> | null | undefined;
  Names?: string[] | null;
}

const ASSIGNED_NAME = /^\/?wharf-worker-(\d+)-([A-Za-z0-9_.-]+)$/;

/** The name a standby is given when a build takes it: build id and the whole worker id. */
export function assignedStandbyName(buildIdText: string, workerId: string): string {
  return `wharf-worker-${buildIdText}-${workerId}`;
}

/** A standby's name while no build has it: anything `ASSIGNED_NAME` does not match. */
export function waitingStandbyName(standbyId: string): string {
  return `wharf-standby-${standbyId}`;
}

/** Whose worker `c` is; undefined for a standby no build has taken (or a container of neither kind). */
export function workerIdentity(c: ListedWorkerContainer): WorkerIdentity | undefined {
  const labels = c.Labels ?? {};
  const workerId = labels[WHARF_LABELS.workerId];
  if (workerId) return { workerId, buildIdText: labels[WHARF_LABELS.buildId] ?? "" };
  if (labels[WHARF_LABELS.standby] !== "true") return undefined;
  for (const name of c.Names ?? []) {
    const m = ASSIGNED_NAME.exec(name);
    if (m) return { workerId: m[2] as string, buildIdText: m[1] as string };
  }
  return undefined;
}

/** A standby container no build has taken. */
export function isWaitingStandby(c: ListedWorkerContainer): boolean {
  return c.Labels?.[WHARF_LABELS.standby] === "true" && workerIdentity(c) === undefined;
}
