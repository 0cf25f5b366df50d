import * as grpc from "@grpc/grpc-js";
import { ProtoReader, writeVarintField } from "@wharf/proto";
import { malformedReason, tolerateMalformedRequests } from "./malformed-request.js";

/**
 * grpc.health.v1.Health (Check and Watch), hand-written in place of `grpc-health-check`.
 * That package parses its health.proto with @grpc/proto-loader and protobufjs when it is
 * loaded — its own copies, next to ours — which cost a worker ~60 ms of its start (CPU profile
 * of `wharf worker serve`, compiled) and a few MB of its idle RSS. The two messages have one
 * field each, so their codecs are a few lines. Tested against grpc-health-check's client.
 */
export type ServingStatus = "UNKNOWN" | "SERVING" | "NOT_SERVING" | "SERVICE_UNKNOWN";
const STATUS_NUMBERS: Record<ServingStatus, number> = {
  UNKNOWN: 0,
  SERVING: 1,
  NOT_SERVING: 2,
  SERVICE_UNKNOWN: 3,
};

/** HealthCheckRequest { string service = 1; } */
function decodeRequest(buf: Buffer): { service: string } {
  const r = new ProtoReader(buf);
  let service = "";
  while (r.pos < buf.length) {
    const tag = r.varint();
    if (tag === 0x0a) {
      const end = r.lengthEnd();
      service = buf.toString("utf8", r.pos, end);
      r.pos = end;
    } else r.skip(tag);
  }
  return { service };
}

function encodeRequest(req: { service?: string }): Buffer {
  const name = Buffer.from(req.service ?? "", "utf8");
  if (name.length === 0) return Buffer.alloc(0);
  const b = Buffer.alloc(name.length + 6);
  const p = writeVarintField(b, 0, 0x0a, name.length);
  return b.subarray(0, p + name.copy(b, p));
}

/** HealthCheckResponse { ServingStatus status = 1; } (0, the default, is not written). */
function encodeResponse(res: { status: ServingStatus }): Buffer {
  const n = STATUS_NUMBERS[res.status];
  if (n === 0) return Buffer.alloc(0);
  return Buffer.from([0x08, n]);
}

function decodeResponse(buf: Buffer): { status: ServingStatus } {
  const r = new ProtoReader(buf);
  let status: ServingStatus = "UNKNOWN";
  while (r.pos < buf.length) {
    const tag = r.varint();
    if (tag === 0x08) {
      const n = r.varint();
      status = (Object.keys(STATUS_NUMBERS) as ServingStatus[])[n] ?? "UNKNOWN";
    } else r.skip(tag);
  }
  return { status };
}

const method = <S extends boolean>(name: string, responseStream: S) => ({
  path: `/grpc.health.v1.Health/${name}`,
  requestStream: false,
  responseStream,
  requestSerialize: encodeRequest,
  requestDeserialize: decodeRequest,
  responseSerialize: encodeResponse,
  responseDeserialize: decodeResponse,
});

/** The service definition, for servers and for `makeGenericClientConstructor`. */
export const healthServiceDefinition = {
  Check: method("Check", false),
  Watch: method("Watch", true),
} satisfies grpc.ServiceDefinition;

/** The serving status of each service name ("" = the whole server), as Check and Watch tell it. */
export class HealthStatusBoard {
  private readonly statuses = new Map<string, ServingStatus>();
  private readonly watchers = new Map<string, Set<grpc.ServerWritableStream<{ service: string }, unknown>>>();

  constructor(initial: Record<string, ServingStatus>) {
    for (const [name, status] of Object.entries(initial)) this.statuses.set(name, status);
  }

  setStatus(service: string, status: ServingStatus): void {
    if (this.statuses.get(service) === status) return;
    this.statuses.set(service, status);
    for (const call of this.watchers.get(service) ?? []) call.write({ status });
  }

  addToServer(server: grpc.Server): void {
    server.addService(tolerateMalformedRequests(healthServiceDefinition), {
      Check: (
        call: grpc.ServerUnaryCall<{ service: string }, unknown>,
        done: grpc.sendUnaryData<{ status: ServingStatus }>,
      ) => {
        const malformed = malformedReason(call.request);
        if (malformed !== undefined) {
          done({ code: grpc.status.INVALID_ARGUMENT, details: `not a HealthCheckRequest: ${malformed}` });
          return;
        }
        const status = this.statuses.get(call.request.service);
        // The health protocol: an unknown service is NOT_FOUND for Check.
        if (status === undefined) done({ code: grpc.status.NOT_FOUND, details: "unknown service" });
        else done(null, { status });
      },
      Watch: (call: grpc.ServerWritableStream<{ service: string }, unknown>) => {
        const malformed = malformedReason(call.request);
        if (malformed !== undefined) {
          // An 'error' event on a server stream is its final status.
          call.emit("error", {
            code: grpc.status.INVALID_ARGUMENT,
            details: `not a HealthCheckRequest: ${malformed}`,
          });
          return;
        }
        const { service } = call.request;
        // ...and SERVICE_UNKNOWN for Watch, which stays open until the service appears.
        call.write({ status: this.statuses.get(service) ?? "SERVICE_UNKNOWN" });
        const set = this.watchers.get(service) ?? new Set();
        this.watchers.set(service, set);
        set.add(call);
        call.on("cancelled", () => set.delete(call));
        call.on("close", () => set.delete(call));
      },
    });
  }

  /** Ends every open Watch (the server is closing). */
  endWatches(): void {
    for (const set of this.watchers.values()) for (const call of set) call.end();
    this.watchers.clear();
  }
}
