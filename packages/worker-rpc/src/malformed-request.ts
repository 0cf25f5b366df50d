import type * as grpc from "@grpc/grpc-js";
import { invalidArgument } from "./rpc-errors.js";

/*
 * grpc-js answers a request message its deserializer cannot decode with INTERNAL ("Error
 * deserializing request"), before any handler runs: a client's garbage reads as the server's fault.
 * These wrappers let such a request through as a marker instead, so the handler answers it with
 * INVALID_ARGUMENT — after the token check, so an unauthenticated caller still learns nothing else.
 */

const MALFORMED = Symbol("malformed request");
type Malformed = { [MALFORMED]: string };

/** The service with every request deserializer made total: what it cannot decode becomes a marker. */
export function tolerateMalformedRequests<S extends grpc.ServiceDefinition>(service: S): S {
  const out: Record<string, unknown> = {};
  for (const [name, method] of Object.entries(service)) {
    out[name] = {
      ...method,
      requestDeserialize: (bytes: Buffer): unknown => {
        try {
          return method.requestDeserialize(bytes);
        } catch (err) {
          return { [MALFORMED]: err instanceof Error ? err.message : String(err) } satisfies Malformed;
        }
      },
    };
  }
  return out as S;
}

/** The reason `request` could not be decoded, or undefined for a decoded message. */
export function malformedReason(request: unknown): string | undefined {
  if (typeof request !== "object" || request === null || !(MALFORMED in request)) return undefined;
  return (request as Malformed)[MALFORMED];
}

/** Throws INVALID_ARGUMENT for a request that could not be decoded. */
export function rejectMalformed(request: unknown): void {
  const reason = malformedReason(request);
  if (reason !== undefined) throw invalidArgument(`the request is not a valid protobuf message: ${reason}`);
}
