import { CREATED_BY_EXECUTOR, WHARF_LABELS, WORKER_COMPONENT } from "@wharf/proto/labels";

/** One thing the janitor removes (or, dry, would remove). */
export interface JanitorObject {
  kind: "container" | "volume" | "network" | "image";
  /** Container or image id, volume or network name: what the engine removes it by. */
  id: string;
  workerId?: string;
  /** What removing it frees, as far as the engine tells (0 when it does not). */
  bytes: number;
}

/** What the engine holds that carries a worker id, as the selection needs it. */
export interface Inventory {
  containers: {
    id: string;
    state: string;
    labels: Record<string, string>;
    createdMs: number;
    /** When it ended; needed for ended worker containers only. */
    finishedMs?: number;
    bytes: number;
  }[];
  volumes: { name: string; labels: Record<string, string>; createdMs: number; bytes: number }[];
  networks: { name: string; labels: Record<string, string>; createdMs: number }[];
}

export interface SelectOptions {
  minAgeMs: number;
  /** Only objects carrying these labels too. */
  labels: Record<string, string>;
}

/** A container in one of these states may still be doing its worker's work. */
const ALIVE_STATES = new Set(["running", "paused", "restarting", "removing"]);
const ENDED_STATES = new Set(["exited", "dead"]);

/**
 * The leftovers of workers that are gone. Pure, so the rules are tested without an engine:
 * - a worker is alive while any container with its worker id (its own, or a step's) is
 *   alive; nothing carrying the id of a live worker is selected;
 * - a dead worker's objects go once it has been gone for `minAgeMs`: counted from when its
 *   own container (component=worker) ended, which gives the provisioner, the aggregator and
 *   the watchdog time to see the exit (they read it from that container); where there is no
 *   such container (one created but not yet started, or a worker that is a process of the
 *   local backend, seen only through its running steps), from each object's creation;
 * - only wharf's: a worker container, or what an executor created; never a running container.
 */
export function selectLeftovers(inv: Inventory, opts: SelectOptions, nowMs: number): JanitorObject[] {
  const workerId = (labels: Record<string, string>) => labels[WHARF_LABELS.workerId];
  const alive = new Set<string>();
  /** Worker id → when its worker container ended. */
  const ended = new Map<string, number>();
  for (const c of inv.containers) {
    const id = workerId(c.labels);
    if (id === undefined) continue;
    if (ALIVE_STATES.has(c.state)) alive.add(id);
    else if (ENDED_STATES.has(c.state) && c.labels[WHARF_LABELS.component] === WORKER_COMPONENT)
      ended.set(id, c.finishedMs ?? c.createdMs);
  }
  const inScope = (labels: Record<string, string>) =>
    Object.entries(opts.labels).every(([k, v]) => labels[k] === v);
  const byExecutor = (labels: Record<string, string>) =>
    labels[WHARF_LABELS.createdBy] === CREATED_BY_EXECUTOR;
  const gone = (labels: Record<string, string>, createdMs: number) => {
    const id = workerId(labels);
    if (id === undefined || alive.has(id) || !inScope(labels)) return false;
    return nowMs - (ended.get(id) ?? createdMs) >= opts.minAgeMs;
  };

  const out: JanitorObject[] = [];
  for (const c of inv.containers) {
    const ours = byExecutor(c.labels) || c.labels[WHARF_LABELS.component] === WORKER_COMPONENT;
    if (ours && !ALIVE_STATES.has(c.state) && gone(c.labels, c.createdMs))
      out.push({ kind: "container", id: c.id, workerId: workerId(c.labels), bytes: c.bytes });
  }
  for (const v of inv.volumes)
    if (byExecutor(v.labels) && gone(v.labels, v.createdMs))
      out.push({ kind: "volume", id: v.name, workerId: workerId(v.labels), bytes: v.bytes });
  for (const n of inv.networks)
    if (byExecutor(n.labels) && gone(n.labels, n.createdMs))
      out.push({ kind: "network", id: n.name, workerId: workerId(n.labels), bytes: 0 });
  return out;
}
