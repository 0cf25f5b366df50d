import { MemorySink, type SinkLogLine, startWharfApiServer, type WharfApiServer } from "@wharf/dev-sink";
import type { Handlers } from "./bench-role.js";

/**
 * The wharf-api double of the relay benchmarks: the same protocol server as the
 * tests' double (`startWharfApiServer`: CreateLogStream on h2c, the HTTP routes),
 * over a sink that checks every line as it arrives instead of keeping it. The
 * benchmarks measure the aggregator; a sink holding a million line objects
 * measured V8's garbage collector in the double instead (wharf-api itself keeps
 * lines in Postgres, not in its heap). Statuses and artifacts are kept as usual.
 */
class OrderCheckingSink extends MemorySink {
  /** Per build: how many lines arrived while every one was the next worker_log_id (1, 2, …). */
  readonly inOrder = new Map<number, number>();
  readonly badBuilds = new Set<number>();
  /** Arrival minus line timestamp, per line (ms). */
  readonly latencies: number[] = [];

  override async appendLogs(lines: Omit<SinkLogLine, "logId">[]): Promise<void> {
    const now = Date.now();
    for (const l of lines) {
      const held = this.inOrder.get(l.buildId) ?? 0;
      if (l.workerLogId === held + 1) this.inOrder.set(l.buildId, held + 1);
      else this.badBuilds.add(l.buildId);
      this.latencies.push(now - l.timestamp.getTime());
    }
    if (lines[0]) await this.ensureBuild(lines[0].buildId);
  }

  /** What the aggregator asks when it reconciles: as many lines as arrived, rebuilt from their ids. */
  override async listLogs(buildId: number, afterLogId = 0) {
    const held = this.inOrder.get(buildId) ?? 0;
    return Array.from({ length: Math.max(0, held - afterLogId) }, (_, i) => ({
      logId: afterLogId + i + 1,
      buildId,
      workerLogId: afterLogId + i + 1,
      workerStepId: 1,
      timestamp: new Date(0),
      message: "",
      receivedAt: 0,
    }));
  }
}

export function doubleRole(): Handlers {
  let api: WharfApiServer | undefined;
  let sink: OrderCheckingSink | undefined;
  const need = () => {
    if (!sink) throw new Error("double not started");
    return sink;
  };
  return {
    /** `delayMs`: every HTTP request and CreateLogStream call is held this long (a slow wharf-api). */
    async open(delayMs = 0) {
      sink = new OrderCheckingSink();
      api = await startWharfApiServer({
        sink,
        gate: async () => {
          if (delayMs > 0) await new Promise((r) => setTimeout(r, delayMs));
          return "ok";
        },
      });
      return { url: api.url, grpcAddress: api.grpcAddress };
    },
    count: () => [...need().inOrder.values()].reduce((a, b) => a + b, 0),
    /** Every build got worker_log_id 1..lines exactly once, in order; returns the number of bad builds. */
    check(buildIds: number[], lines: number) {
      const s = need();
      return buildIds.filter((b) => s.badBuilds.has(b) || s.inOrder.get(b) !== lines).length;
    },
    /** Arrival minus line timestamp for every line after the first `skip`, sorted (ms). */
    latencies: (skip = 0) =>
      need()
        .latencies.slice(skip)
        .sort((a, b) => a - b),
    async shutdown() {
      await api?.close();
    },
  };
}
