import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { StepStatusCode } from "@wharf/proto";
import type { ResultStore } from "@wharf/result-store";
import { Counter, collectDefaultMetrics, Gauge, Registry } from "prom-client";

export interface WorkerHttp {
  readonly port: number;
  close(): Promise<void>;
}

function workerMetrics(store: ResultStore): { registry: Registry; scrapes: Counter } {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: "wharf_worker_" });
  new Gauge({
    name: "wharf_worker_log_lines",
    help: "Log lines recorded by this worker's build",
    registers: [registry],
    collect() {
      this.set(store.summary().lastLogId);
    },
  });
  new Gauge({
    name: "wharf_worker_build_status",
    help: "Build status as the wharf.worker.v1.Status number",
    registers: [registry],
    collect() {
      this.set(StepStatusCode[store.summary().status]);
    },
  });
  const scrapes = new Counter({
    name: "wharf_worker_metrics_scrapes_total",
    help: "Scrapes",
    registers: [registry],
  });
  return { registry, scrapes };
}

function send(res: ServerResponse, status: number, type: string, body: string): void {
  res.writeHead(status, { "content-type": type, "content-length": Buffer.byteLength(body) });
  res.end(body);
}

/**
 * /healthz (process up), /readyz (gRPC bound), /metrics (Prometheus), on plain `node:http`.
 * Three fixed GET routes need no router, schemas or plugins; fastify (with ajv) here cost
 * ~5 MB of the idle worker's RSS (bench/startup.ts, the worker's 70 MB goal), and every
 * build runs one worker.
 */
export async function startWorkerHttp(store: ResultStore, host: string, port: number): Promise<WorkerHttp> {
  const { registry, scrapes } = workerMetrics(store);
  const json = (res: ServerResponse, body: unknown) =>
    send(res, 200, "application/json", JSON.stringify(body));
  const routes: Record<string, (res: ServerResponse) => Promise<void> | void> = {
    "/healthz": (res) => json(res, { status: "ok" }),
    "/readyz": (res) => json(res, { status: "ready", finished: store.finished }),
    "/metrics": async (res) => {
      scrapes.inc();
      send(res, 200, registry.contentType, await registry.metrics());
    },
  };
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const route = routes[(req.url ?? "/").split("?")[0] ?? "/"];
    if (!route) return send(res, 404, "application/json", '{"error":"not found"}');
    if (req.method !== "GET" && req.method !== "HEAD") {
      res.setHeader("allow", "GET, HEAD");
      return send(res, 405, "application/json", '{"error":"method not allowed"}');
    }
    Promise.resolve(route(res)).catch(() => send(res, 500, "application/json", '{"error":"metrics failed"}'));
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => resolve());
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        // A kept-alive metrics scraper must not hold the worker's exit.
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
