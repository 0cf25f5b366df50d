import path from "node:path";
import { fileURLToPath } from "node:url";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import type { ProtoGrpcType as ApiProtoGrpcType } from "./generated/builds.js";
import type { ProtoGrpcType as WorkerProtoGrpcType } from "./generated/worker.js";

/** Folder holding the .proto files; outside clients generate from here too. */
export const protoRoot = path.dirname(fileURLToPath(import.meta.url));

// longs as strings would leak into every caller; ids stay far below 2^53 so
// numbers are safe. Enums as numbers keep the wire value visible.
const loaderOptions: protoLoader.Options = {
  keepCase: false,
  longs: Number,
  enums: Number,
  defaults: true,
  oneofs: true,
  includeDirs: [protoRoot],
};

function load(file: string): grpc.GrpcObject {
  return grpc.loadPackageDefinition(protoLoader.loadSync(path.join(protoRoot, file), loaderOptions));
}

/**
 * wharf.worker.v1 as loaded: its service constructors make the generated `WorkerClient` and
 * `WorkerExtrasClient`, its `.service` definitions are typed per method.
 */
export type WorkerPackage = WorkerProtoGrpcType["wharf"]["worker"]["v1"];

/** wharf.api.v5 as loaded: `Builds` makes the generated `BuildsClient`. */
export type ApiPackage = ApiProtoGrpcType["wharf"]["api"]["v5"];

let workerPackage: WorkerPackage | undefined;

/**
 * wharf.worker.v1: the worker's API. Parsed once per process (it costs ~50 ms and memory): the
 * package is only read, by every server and client of it.
 */
export function loadWorkerProto(): WorkerPackage {
  workerPackage ??= (load("wharf/worker/v1/worker.proto") as unknown as WorkerProtoGrpcType).wharf.worker.v1;
  return workerPackage;
}

/** wharf.api.v5: the part of wharf-api the aggregator talks to. */
export function loadApiProto(): ApiPackage {
  const root = load("wharf/api/v5/builds.proto") as unknown as ApiProtoGrpcType;
  return root.wharf.api.v5;
}

/**
 * wharf.worker.v1.Status: a step's (or, as step 0, the build's) status as the worker's gRPC
 * codes it; the result store's StepStatus words by number. Not a worker's status: that is the
 * provisioner's WorkerStatus (Queued … Cancelled), which the relay's directories read as a
 * WorkerState.
 */
export const StepStatusCode = {
  UNSPECIFIED: 0,
  PENDING: 1,
  SCHEDULING: 2,
  INITIALIZING: 3,
  RUNNING: 4,
  SUCCESS: 5,
  FAILED: 6,
  CANCELLED: 7,
} as const;
export type StepStatusCodeValue = (typeof StepStatusCode)[keyof typeof StepStatusCode];
/** exit_code is a plain int32 on the wire; this stands for "no exit code" (the step never ran). */
export const NO_EXIT_CODE = -1;
export * from "./wire.js";
export { WORKER_EVENTS_URL_ENV, type WorkerEvent, workerEventsPath } from "./worker-events.js";
export * from "./worker-exit-report.js";
export type * from "./worker-messages.js";
export { workerTokenFor } from "./worker-token.js";
