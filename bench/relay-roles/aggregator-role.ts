import * as grpc from "@grpc/grpc-js";
import { createLogger } from "@wharf/config";
import { openDatabase } from "@wharf/db";
import { loadWorkerProto } from "@wharf/proto";
import { Aggregator, migrateRelay, WharfApiClient } from "@wharf/relay";
import { WorkerConnection } from "@wharf/worker-rpc";
import type { AggregatorRun, Handlers } from "./bench-role.js";

export function aggregatorRole(): Handlers {
  const log = createLogger("bench", "silent");
  // The breakdown at the highest RSS seen: says whether a peak is V8 heap, buffers or native memory.
  let atPeak = process.memoryUsage();
  setInterval(() => {
    const now = process.memoryUsage();
    if (now.rss > atPeak.rss) atPeak = now;
  }, 50).unref();
  return {
    memoryAtPeak: () => atPeak,
    /**
     * Reads every worker's StreamLogBatches to the end, nothing else; returns lines read.
     * "grpc-js": a plain grpc-js client with @wharf/proto's loader (the raw baseline);
     * "relay": the aggregator's own WorkerConnection (its hand-written decoder).
     */
    async read(addresses: string[], batchLines: number, via: "grpc-js" | "relay") {
      let n = 0;
      await Promise.all(
        addresses.map(async (address) => {
          const conn =
            via === "relay"
              ? new WorkerConnection(address)
              : new (loadWorkerProto().WorkerExtras)(address, grpc.credentials.createInsecure());
          if (conn instanceof WorkerConnection) {
            for await (const batch of conn.streamLogBatches(0, batchLines)) n += batch.length;
          } else {
            const stream = (
              conn as unknown as { StreamLogBatches(req: object): AsyncIterable<{ lines: unknown[] }> }
            ).StreamLogBatches({ afterLogId: 0, maxBatchLines: batchLines });
            for await (const batch of stream) n += batch.lines.length;
          }
          conn.close();
        }),
      );
      return n;
    },
    /** Relays the workers until the aggregator removed every one of them (all delivered and released). */
    async relay(run: AggregatorRun, timeoutMs: number) {
      const db = await openDatabase({ url: run.dbUrl });
      await migrateRelay(db);
      const api = new WharfApiClient({ url: run.apiUrl });
      const removed = new Set<string>();
      let allRemoved: () => void = () => {};
      const done = new Promise<void>((resolve) => {
        allRemoved = resolve;
      });
      const agg = new Aggregator({
        db,
        api,
        log,
        directory: {
          kind: "bench",
          list: async () => run.workers.filter((w) => !removed.has(w.workerId)),
          remove: async (id) => {
            removed.add(id);
            if (removed.size === run.workers.length) allRemoved();
          },
        },
        discoveryIntervalMs: 50,
        ...(run.tuning ? { tuning: run.tuning } : {}),
      });
      const start = performance.now();
      agg.start();
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`relay did not finish in ${timeoutMs} ms`)), timeoutMs);
      });
      try {
        await Promise.race([done, timeout]);
        return performance.now() - start;
      } finally {
        clearTimeout(timer);
        await agg.stop();
        api.close();
        await db.close();
      }
    },
    async shutdown() {},
  };
}
