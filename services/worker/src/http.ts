import { closeConnectionsWhenClosing } from "@wharf/config";
import { WorkerStatus } from "@wharf/proto";
import type { ResultStore } from "@wharf/result-store";
import Fastify, { type FastifyInstance } from "fastify";
import { Counter, collectDefaultMetrics, Gauge, Registry } from "prom-client";

export interface WorkerHttp {
  readonly port: number;
  close(): Promise<void>;
}

/** /healthz (process up), /readyz (gRPC bound), /metrics (Prometheus). */
export async function startWorkerHttp(store: ResultStore, host: string, port: number): Promise<WorkerHttp> {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: "wharf_worker_" });
  const lines = new Gauge({
    name: "wharf_worker_log_lines",
    help: "Log lines recorded by this worker's build",
    registers: [registry],
    collect() {
      this.set(store.summary().lastLogId);
    },
  });
  const buildStatus = new Gauge({
    name: "wharf_worker_build_status",
    help: "Build status as the wharf.worker.v1.Status number",
    registers: [registry],
    collect() {
      this.set(WorkerStatus[store.summary().status]);
    },
  });
  const scrapes = new Counter({
    name: "wharf_worker_metrics_scrapes_total",
    help: "Scrapes",
    registers: [registry],
  });
  void lines;
  void buildStatus;

  const app: FastifyInstance = Fastify({ logger: false });
  closeConnectionsWhenClosing(app); // a kept-alive metrics scraper must not hold the worker's exit
  app.get("/healthz", async () => ({ status: "ok" }));
  app.get("/readyz", async () => ({ status: "ready", finished: store.finished }));
  app.get("/metrics", async (_req, reply) => {
    scrapes.inc();
    reply.header("content-type", registry.contentType);
    return registry.metrics();
  });
  await app.listen({ host, port });
  const addr = app.server.address();
  return {
    port: typeof addr === "object" && addr ? addr.port : port,
    close: () => app.close(),
  };
}
