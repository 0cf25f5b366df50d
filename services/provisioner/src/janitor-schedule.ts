import type { Logger } from "@wharf/config";
import type { JanitorOptions } from "@wharf/executor-docker/janitor-options";
import type { ProvisionerMetrics } from "@wharf/provisioner";

export interface JanitorScheduleSettings {
  /** WHARF_JANITOR_INTERVAL: between the end of one run and the start of the next; the first runs one interval after start. */
  intervalMs: number;
  /** The engine to clean (the docker backend's WHARF_DOCKER_SOCKET); unset: $DOCKER_HOST's. */
  socketPath?: string;
  options: JanitorOptions;
}

export interface JanitorSchedule {
  /** Stops the timer; waits for a run in progress (it holds the engine's lock). */
  close(): Promise<void>;
}

/**
 * Runs `wharf janitor` in the provisioner, every interval. Every replica may run one: the
 * engine's lock lets one clean at a time, and a replica turned away waits for its next turn.
 * The janitor (and dockerode) is loaded on the first run.
 */
export function scheduleJanitor(
  settings: JanitorScheduleSettings,
  deps: { metrics: ProvisionerMetrics; log: Logger },
): JanitorSchedule {
  const log = deps.log.child({ component: "janitor" });
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;
  let closed = false;

  const runOnce = async () => {
    const jan = await import("@wharf/executor-docker/janitor");
    try {
      const report = await jan.runJanitor(jan.defaultEngine(settings.socketPath), settings.options);
      for (const [kind, n] of Object.entries(report.counts))
        if (n > 0) deps.metrics.janitorRemoved.inc({ kind: kind.replace(/s$/, "") }, n);
      deps.metrics.janitorBytes.inc(report.bytes);
      log.info(
        { counts: report.counts, bytes: report.bytes, skipped: report.skipped.length },
        jan.summaryLine(report),
      );
    } catch (err) {
      if (err instanceof jan.JanitorBusyError) log.info(err.message);
      else log.warn({ err }, "janitor failed; trying again at the next interval");
    }
  };
  const arm = () => {
    if (closed) return;
    timer = setTimeout(() => {
      running = runOnce().finally(() => {
        running = undefined;
        arm();
      });
    }, settings.intervalMs);
    timer.unref();
  };
  arm();
  return {
    async close() {
      closed = true;
      clearTimeout(timer);
      await running;
    },
  };
}
