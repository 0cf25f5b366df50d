import { BUILD_LATENCY_BUCKETS } from "@wharf/config";
import type { Aggregator, RelayCounter, RelayMetrics } from "@wharf/relay";
import { Counter, Gauge, Histogram, Registry } from "prom-client";

const help: Record<RelayCounter, string> = {
  log_lines_delivered: "Log lines wharf-api acknowledged",
  log_batches_delivered: "CreateLogStream calls wharf-api acknowledged",
  log_lines_reconciled: "Lines found already stored at wharf-api after an interrupted batch",
  statuses_delivered: "Build status transitions delivered",
  artifacts_delivered: "Artifacts uploaded",
  artifact_bytes_delivered: "Artifact bytes uploaded",
  delivery_retries: "Failed delivery attempts that were retried",
  workers_finished: "Workers relayed completely, released and removed",
  workers_failed: "Workers declared lost (build marked Failed)",
  leases_lost: "Worker leases taken over by another replica",
  relays_refused: "Builds whose relay ended because wharf-api refused part of it for good (see the log)",
};

/** Prometheus view of the relay's counters plus the number of workers relayed now. */
export function createAggregatorMetrics(): {
  registry: Registry;
  relay: RelayMetrics;
  watch(agg: Aggregator): void;
} {
  const registry = new Registry();
  const counters = new Map<RelayCounter, Counter>();
  for (const [name, text] of Object.entries(help) as [RelayCounter, string][]) {
    counters.set(
      name,
      new Counter({ name: `wharf_aggregator_${name}_total`, help: text, registers: [registry] }),
    );
  }
  const firstLine = new Histogram({
    name: "wharf_build_first_line_seconds",
    help:
      "wharf-api's trigger (the provisioner's createdAt) to the build's first log lines acknowledged by wharf-api, " +
      "by wharf-api instance; builds found through the provisioner only",
    labelNames: ["instance"],
    buckets: BUILD_LATENCY_BUCKETS,
    registers: [registry],
  });
  return {
    registry,
    relay: {
      count: (name, n = 1) => counters.get(name)?.inc(n),
      firstLine: (instance, seconds) => firstLine.observe({ instance }, seconds),
    },
    watch(agg) {
      new Gauge({
        name: "wharf_aggregator_workers_relaying",
        help: "Workers this replica holds a lease on and relays",
        registers: [registry],
        collect() {
          this.set(agg.relaying.length);
        },
      });
    },
  };
}
