import { setTimeout as sleep } from "node:timers/promises";
import type { Logger } from "@wharf/config";
import type { BuildId } from "@wharf/proto/build-id";
import type { ApiBuild, WharfApiClient } from "./wharf-api-client.js";
import type { WorkerDirectory } from "./worker-directory.js";

export interface WatchdogOptions {
  api: WharfApiClient;
  directory: WorkerDirectory;
  log: Logger;
  /** Between two checks (default 30 s). */
  intervalMs?: number;
  /** How long a mismatch must persist before acting (default 60 s). */
  graceMs?: number;
  now?: () => number;
}

export type WatchdogDecision =
  | { action: "fail-build"; buildId: BuildId; orphanedForMs: number }
  | { action: "remove-worker"; workerId: string; buildId: BuildId; strayForMs: number };

/**
 * Reconciles wharf-api with the workers that exist: a build wharf-api thinks is
 * Scheduling/Running with no worker behind it is marked Failed, and a worker
 * whose build wharf-api no longer considers active is removed — each only after
 * the mismatch outlived the grace period, so a worker still being created or a
 * build still being finished is left alone.
 *
 * Only builds this engine started are failed: wharf-api may have sent others to another
 * engine (Jenkins as a fallback). A build counts as ours when the directory says it had a
 * worker (`startedBuilds`), or when this watchdog saw one for it. Before the status, the
 * build's log gets a line saying why, since wharf-api keeps no status message.
 */
export class Watchdog {
  private readonly orphanBuilds = new Map<BuildId, number>();
  private readonly strayWorkers = new Map<string, number>();
  /** Builds this watchdog saw a worker for, while wharf-api still lists them as active. */
  private readonly seenBuilds = new Set<BuildId>();
  private readonly stopping = new AbortController();
  private loop: Promise<void> | undefined;

  constructor(private readonly opts: WatchdogOptions) {}

  start(): void {
    const interval = this.opts.intervalMs ?? 30_000;
    this.loop = (async () => {
      const signal = this.stopping.signal;
      while (!signal.aborted) {
        await this.check().catch((err: unknown) => {
          this.opts.log.warn({ err: String(err) }, "watchdog check failed; trying again next interval");
        });
        await sleep(interval, undefined, { signal }).catch(() => {});
      }
    })();
  }

  async stop(): Promise<void> {
    this.stopping.abort();
    await this.loop;
  }

  /** One pass; returns (and logs) what it did. */
  async check(): Promise<WatchdogDecision[]> {
    const { api, directory, log } = this.opts;
    const now = (this.opts.now ?? Date.now)();
    const grace = this.opts.graceMs ?? 60_000;
    const [builds, workers] = await Promise.all([api.listActiveBuilds(), directory.list()]);
    const liveBuilds = new Set(workers.filter((w) => w.status !== "failed").map((w) => w.buildId));
    const activeBuilds = new Set(builds.map((b) => b.buildId));
    for (const w of workers) this.seenBuilds.add(w.buildId);
    for (const id of this.seenBuilds)
      if (!activeBuilds.has(id) && !liveBuilds.has(id)) this.seenBuilds.delete(id);
    const decisions: WatchdogDecision[] = [];

    const overdue: ApiBuild[] = [];
    for (const b of builds) {
      if (liveBuilds.has(b.buildId)) {
        this.orphanBuilds.delete(b.buildId);
        continue;
      }
      const since = this.orphanBuilds.get(b.buildId) ?? now;
      this.orphanBuilds.set(b.buildId, since);
      if (now - since >= grace) overdue.push(b);
    }
    const ours = await this.startedHere(overdue.map((b) => b.buildId));
    for (const b of overdue) {
      if (!ours.has(b.buildId)) continue; // another engine's build: not ours to judge
      const since = this.orphanBuilds.get(b.buildId) ?? now;
      const seconds = Math.round((now - since) / 1000);
      const reason = `no wharf worker has been running this build for ${seconds}s (it was lost or removed)`;
      await this.explainInLog(b.buildId, `[wharf] ${reason}. The build is marked Failed.`);
      await api.setBuildStatus(b.buildId, { status: "Failed", message: `wharf watchdog: ${reason}` });
      this.orphanBuilds.delete(b.buildId);
      decisions.push({ action: "fail-build", buildId: b.buildId, orphanedForMs: now - since });
    }
    for (const id of this.orphanBuilds.keys()) if (!activeBuilds.has(id)) this.orphanBuilds.delete(id);

    const workerIds = new Set<string>();
    for (const w of workers) {
      workerIds.add(w.workerId);
      if (activeBuilds.has(w.buildId)) {
        this.strayWorkers.delete(w.workerId);
        continue;
      }
      const since = this.strayWorkers.get(w.workerId) ?? now;
      this.strayWorkers.set(w.workerId, since);
      if (now - since < grace) continue;
      await directory.remove(w.workerId);
      this.strayWorkers.delete(w.workerId);
      decisions.push({
        action: "remove-worker",
        workerId: w.workerId,
        buildId: w.buildId,
        strayForMs: now - since,
      });
    }
    for (const id of this.strayWorkers.keys()) if (!workerIds.has(id)) this.strayWorkers.delete(id);

    for (const d of decisions) log.info(d, `watchdog: ${d.action}`);
    if (overdue.length > ours.size)
      log.debug(
        { builds: overdue.length - ours.size },
        "watchdog: left alone active builds no wharf worker ever ran",
      );
    log.debug(
      { builds: builds.length, workers: workers.length, decisions: decisions.length },
      "watchdog check",
    );
    return decisions;
  }

  /** Which of `ids` had a worker from this engine: seen here, or known to the directory. */
  private async startedHere(ids: BuildId[]): Promise<Set<BuildId>> {
    const ours = new Set(ids.filter((id) => this.seenBuilds.has(id)));
    const unknown = ids.filter((id) => !ours.has(id));
    if (unknown.length && this.opts.directory.startedBuilds) {
      for (const id of await this.opts.directory.startedBuilds(unknown)) ours.add(id);
    }
    return ours;
  }

  /** One line at the end of the build's log (best effort: the status still follows). */
  private async explainInLog(buildId: BuildId, message: string): Promise<void> {
    const { api, log } = this.opts;
    try {
      const stored = (await api.countBuildLogs(buildId).catch(() => 0)) ?? 0;
      await api.sendLogBatch([
        { buildId, workerLogId: stored + 1, workerStepId: 0, timestamp: new Date(), message },
      ]);
    } catch (err) {
      log.warn({ err: String(err), buildId }, "watchdog: could not write the reason into the build's log");
    }
  }
}
