import { BUILD_LATENCY_BUCKETS } from "@wharf/config";
import type { Queryable } from "@wharf/db";
import { Counter, Gauge, Histogram, Registry } from "prom-client";

export interface ProvisionerMetrics {
  registry: Registry;
  created: Counter<"backend">;
  started: Counter<"backend">;
  startFailures: Counter<"backend">;
  lost: Counter<"backend">;
  httpDuration: Histogram<"method" | "route" | "status">;
  queueWait: Histogram<"instance">;
  workerStart: Histogram<"instance">;
  /** The scheduled janitor's (WHARF_JANITOR_INTERVAL): objects removed, by kind, and bytes reclaimed. */
  janitorRemoved: Counter<"kind">;
  janitorBytes: Counter;
}

/**
 * One registry per provisioner (not prom-client's global one), so several
 * provisioners in one process (tests, `wharf up`) do not clash. The per-status
 * gauge is read from the database at scrape time: it is the same for every
 * replica and survives restarts.
 */
export function createMetrics(db: Queryable): ProvisionerMetrics {
  const registry = new Registry();
  const labelNames = ["backend"] as const;
  new Gauge({
    name: "wharf_provisioner_workers",
    help: "Workers not deleted, by status",
    labelNames: ["status"],
    registers: [registry],
    async collect() {
      const { rows } = await db.query<{ status: string; n: number }>(
        "SELECT status, count(*)::int8 AS n FROM provisioner_workers WHERE deleted_at IS NULL GROUP BY status",
      );
      this.reset();
      for (const r of rows) this.set({ status: r.status }, r.n);
    },
  });
  return {
    registry,
    created: new Counter({
      name: "wharf_provisioner_workers_created_total",
      help: "Workers queued by POST /api/worker",
      labelNames,
      registers: [registry],
    }),
    started: new Counter({
      name: "wharf_provisioner_workers_started_total",
      help: "Workers started on the backend by this replica",
      labelNames,
      registers: [registry],
    }),
    startFailures: new Counter({
      name: "wharf_provisioner_worker_start_failures_total",
      help: "Worker starts the backend refused",
      labelNames,
      registers: [registry],
    }),
    lost: new Counter({
      name: "wharf_provisioner_workers_lost_total",
      help: "Workers that vanished before reporting a result",
      labelNames,
      registers: [registry],
    }),
    queueWait: new Histogram({
      name: "wharf_queue_wait_seconds",
      help: "POST /api/worker to the build's claim for a free slot, by wharf-api instance",
      labelNames: ["instance"],
      buckets: BUILD_LATENCY_BUCKETS,
      registers: [registry],
    }),
    workerStart: new Histogram({
      name: "wharf_worker_start_seconds",
      help: "A build's claim to its worker serving gRPC (its ready event, or a probe), by wharf-api instance",
      labelNames: ["instance"],
      buckets: BUILD_LATENCY_BUCKETS,
      registers: [registry],
    }),
    httpDuration: new Histogram({
      name: "wharf_provisioner_http_request_duration_seconds",
      help: "HTTP request duration",
      labelNames: ["method", "route", "status"],
      registers: [registry],
    }),
    janitorRemoved: new Counter({
      name: "wharf_janitor_objects_removed_total",
      help: "Containers, volumes, networks and images the scheduled janitor removed",
      labelNames: ["kind"],
      registers: [registry],
    }),
    janitorBytes: new Counter({
      name: "wharf_janitor_bytes_reclaimed_total",
      help: "Bytes the scheduled janitor reclaimed, build cache included, as far as the engine reports sizes",
      registers: [registry],
    }),
  };
}
