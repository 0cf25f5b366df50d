import * as grpc from "@grpc/grpc-js";
import { loadWorkerProto } from "@wharf/proto";
import { BearerAuth } from "./bearer-auth.js";
import { LiveStreams } from "./call-handlers.js";
import { HealthStatusBoard, type ServingStatus } from "./health-service.js";
import { withLogBatchEncoder } from "./log-batch-encoder.js";
import { tolerateMalformedRequests } from "./malformed-request.js";
import { withResponseMetadata } from "./response-metadata.js";
import { extrasHandlers, type WorkerResultSource, workerHandlers } from "./worker-handlers.js";

export interface WorkerRpcServerOptions {
  store: WorkerResultSource;
  /** Default 0.0.0.0. */
  host?: string;
  /** Default 5010; 0 picks a free port (see the returned `port`). */
  port?: number;
  /** When set (non-empty), every Worker/WorkerExtras call needs `authorization: Bearer <token>`. */
  token?: string;
  /** Called by the Cancel RPC; without it Cancel answers UNIMPLEMENTED. */
  onCancel?: (reason: string) => void | Promise<void>;
  /** Called by the Release RPC: everything was delivered, the worker may exit. */
  onRelease?: () => void | Promise<void>;
  /** Initial metadata every Worker/WorkerExtras call answers with (e.g. the build's traceparent). */
  responseMetadata?: Record<string, string>;
  /** How long close() lets calls finish before cutting them (default 5 s). */
  shutdownGraceMs?: number;
}

export interface WorkerRpcServer {
  /** The port actually bound. */
  readonly port: number;
  /** Flips the health status of the worker's services (the health service itself keeps answering). */
  setServing(serving: boolean): void;
  /** Reports NOT_SERVING, ends live streams with UNAVAILABLE, then shuts down. Idempotent. */
  close(): Promise<void>;
}

export const DEFAULT_WORKER_PORT = 5010;
const SERVICE_NAMES = ["", "wharf.worker.v1.Worker", "wharf.worker.v1.WorkerExtras"];

/**
 * Serves wharf.worker.v1.Worker, wharf.worker.v1.WorkerExtras and grpc.health.v1.Health from a
 * result store. Health answers without a token so probes (kubelet, load balancers) work.
 */
export async function startWorkerRpcServer(opts: WorkerRpcServerOptions): Promise<WorkerRpcServer> {
  const proto = loadWorkerProto();
  const streams = new LiveStreams();
  const ctx = {
    store: opts.store,
    auth: new BearerAuth(opts.token),
    streams,
    onCancel: opts.onCancel,
    onRelease: opts.onRelease,
  };
  const server = new grpc.Server();
  // A request that does not decode is the client's INVALID_ARGUMENT, not grpc-js's INTERNAL.
  server.addService(
    tolerateMalformedRequests(proto.Worker.service),
    withResponseMetadata(workerHandlers(ctx), opts.responseMetadata),
  );
  server.addService(
    tolerateMalformedRequests(withLogBatchEncoder(proto.WorkerExtras.service)),
    withResponseMetadata(extrasHandlers(ctx), opts.responseMetadata),
  );
  const health = new HealthStatusBoard(Object.fromEntries(SERVICE_NAMES.map((s) => [s, "SERVING"])));
  health.addToServer(server);

  const host = opts.host ?? "0.0.0.0";
  const address = `${host.includes(":") ? `[${host}]` : host}:${opts.port ?? DEFAULT_WORKER_PORT}`;
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync(address, grpc.ServerCredentials.createInsecure(), (err, bound) =>
      err ? reject(new Error(`cannot listen on ${address}: ${err.message}`, { cause: err })) : resolve(bound),
    );
  });

  const setStatus = (status: ServingStatus) => {
    for (const name of SERVICE_NAMES) health.setStatus(name, status);
  };
  let closing: Promise<void> | undefined;
  return {
    port,
    setServing: (serving) => setStatus(serving ? "SERVING" : "NOT_SERVING"),
    close() {
      closing ??= (async () => {
        setStatus("NOT_SERVING");
        health.endWatches();
        streams.endAll();
        await shutdown(server, opts.shutdownGraceMs ?? 5000);
      })();
      return closing;
    },
  };
}

async function shutdown(server: grpc.Server, graceMs: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const graceful = new Promise<void>((resolve) => server.tryShutdown(() => resolve()));
  const timeout = new Promise<"timeout">((resolve) => {
    timer = setTimeout(() => resolve("timeout"), graceMs);
  });
  if ((await Promise.race([graceful, timeout])) === "timeout") server.forceShutdown();
  clearTimeout(timer);
}
