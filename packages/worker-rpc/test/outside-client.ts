import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { protoRoot } from "@wharf/proto";
import { ResultStore } from "@wharf/result-store";
import {
  startWorkerRpcServer,
  type WorkerResultSource,
  type WorkerRpcServer,
  type WorkerRpcServerOptions,
} from "../src/index.js";

/*
 * A client generated only from the .proto files, the way an outside client (wharf-cmd's aggregator,
 * grpcurl) would: its own loader options (snake_case fields, uint64 as strings, enums as names), no
 * code from this package.
 */
const outsideOptions: protoLoader.Options = {
  keepCase: true,
  longs: String,
  enums: String,
  defaults: true,
  includeDirs: [protoRoot],
};

type Ctor = grpc.ServiceClientConstructor;
const workerPkg = (
  grpc.loadPackageDefinition(
    protoLoader.loadSync("wharf/worker/v1/worker.proto", outsideOptions),
  ) as unknown as {
    wharf: { worker: { v1: { Worker: Ctor; WorkerExtras: Ctor } } };
  }
).wharf.worker.v1;

const healthProto = `syntax = "proto3";
package grpc.health.v1;
message HealthCheckRequest { string service = 1; }
message HealthCheckResponse {
  enum ServingStatus { UNKNOWN = 0; SERVING = 1; NOT_SERVING = 2; SERVICE_UNKNOWN = 3; }
  ServingStatus status = 1;
}
service Health { rpc Check(HealthCheckRequest) returns (HealthCheckResponse); }
`;

export interface StreamResult<T> {
  messages: T[];
  code: grpc.status;
  details: string;
}

export type OutsideClient = grpc.Client & Record<string, (...args: unknown[]) => unknown>;

export class Harness {
  readonly clients: grpc.Client[] = [];

  private constructor(
    readonly dir: string,
    readonly store: ResultStore,
    readonly server: WorkerRpcServer,
  ) {}

  /** `wrap` lets a test put an observer between the server and the store. */
  static async start(
    opts: Partial<WorkerRpcServerOptions> = {},
    wrap: (store: ResultStore) => WorkerResultSource = (s) => s,
  ): Promise<Harness> {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), "wharf-worker-rpc-"));
    const store = await ResultStore.open(path.join(dir, "results"), { buildRef: "build-1" });
    const server = await startWorkerRpcServer({ store: wrap(store), host: "127.0.0.1", port: 0, ...opts });
    return new Harness(dir, store, server);
  }

  get address(): string {
    return `127.0.0.1:${this.server.port}`;
  }

  worker(): OutsideClient {
    return this.track(new workerPkg.Worker(this.address, grpc.credentials.createInsecure()));
  }

  extras(): OutsideClient {
    return this.track(new workerPkg.WorkerExtras(this.address, grpc.credentials.createInsecure()));
  }

  async health(): Promise<OutsideClient> {
    const file = path.join(this.dir, "health.proto");
    await fs.writeFile(file, healthProto);
    const pkg = grpc.loadPackageDefinition(protoLoader.loadSync(file, outsideOptions)) as unknown as {
      grpc: { health: { v1: { Health: Ctor } } };
    };
    return this.track(new pkg.grpc.health.v1.Health(this.address, grpc.credentials.createInsecure()));
  }

  private track(client: grpc.Client): OutsideClient {
    this.clients.push(client);
    return client as OutsideClient;
  }

  async stop(): Promise<void> {
    for (const c of this.clients) c.close();
    await this.server.close();
    await this.store.close();
    await fs.rm(this.dir, { recursive: true, force: true });
  }
}

export function bearer(token: string): grpc.Metadata {
  const md = new grpc.Metadata();
  md.set("authorization", `Bearer ${token}`);
  return md;
}

/** Reads a server stream to its end and reports every message plus the final status. */
export function readStream<T>(
  client: OutsideClient,
  method: string,
  request: object,
  metadata = new grpc.Metadata(),
  onMessage?: (m: T) => void,
): Promise<StreamResult<T>> {
  const call = client[method]!(request, metadata) as grpc.ClientReadableStream<T>;
  const messages: T[] = [];
  return new Promise((resolve) => {
    call.on("data", (m: T) => {
      messages.push(m);
      onMessage?.(m);
    });
    call.on("error", () => {}); // the status event below carries the outcome
    call.on("status", (s: grpc.StatusObject) => resolve({ messages, code: s.code, details: s.details }));
  });
}

export function callUnary<T>(
  client: OutsideClient,
  method: string,
  request: object,
  metadata = new grpc.Metadata(),
): Promise<T> {
  return new Promise((resolve, reject) => {
    client[method]!(request, metadata, (err: grpc.ServiceError | null, res: T) =>
      err ? reject(err) : resolve(res),
    );
  });
}

/** Polls `check` every 5 ms until it holds; fails after `timeoutMs`. */
export async function waitFor(check: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}
