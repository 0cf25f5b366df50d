import type http2 from "node:http2";
import { GRPC_PREFIX_BYTES, varintFieldBytes, writeGrpcPrefix, writeVarintField } from "@wharf/proto";

/** The gRPC status codes this server answers with. */
export const GrpcStatus = {
  OK: 0,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  RESOURCE_EXHAUSTED: 8,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  UNAUTHENTICATED: 16,
} as const;

/**
 * Ends a call with a non-OK status, as a trailers-only response (the status rides in
 * the headers): a call answers once, and only an OK answer sends headers first.
 */
export function answerStatus(
  stream: http2.ServerHttp2Stream,
  code: number,
  message: string,
  httpStatus = 200,
) {
  if (stream.destroyed || stream.closed || stream.headersSent) return;
  stream.respond(
    {
      ":status": httpStatus,
      "content-type": "application/grpc",
      "grpc-status": String(code),
      "grpc-message": percentEncode(message),
    },
    { endStream: true },
  );
  discardRest(stream);
}

/** Answers OK with one message, `CreateLogStreamResponse { lines_inserted = 1 }`, encoded by hand. */
export function answerLinesInserted(stream: http2.ServerHttp2Stream, linesInserted: number): void {
  if (stream.destroyed || stream.closed) return;
  const bodyBytes = varintFieldBytes(linesInserted);
  const frame = Buffer.alloc(GRPC_PREFIX_BYTES + bodyBytes);
  writeVarintField(frame, writeGrpcPrefix(frame, 0, bodyBytes), 0x08, linesInserted);
  stream.respond({ ":status": 200, "content-type": "application/grpc" }, { waitForTrailers: true });
  stream.once("wantTrailers", () => stream.sendTrailers({ "grpc-status": String(GrpcStatus.OK) }));
  stream.end(frame);
  discardRest(stream);
}

/**
 * Reads and drops what the client still sends after the answer, so a client that
 * writes its whole request before reading the status is not stuck on flow control
 * (the status reaches it when it ends its side, as with grpc-js's server).
 */
function discardRest(stream: http2.ServerHttp2Stream): void {
  stream.removeAllListeners("data");
  stream.on("data", () => {});
  stream.resume();
}

/** grpc-message percent-encoding: bytes outside printable ASCII, and '%', as %XX of their UTF-8. */
export function percentEncode(text: string): string {
  let out = "";
  for (const byte of Buffer.from(text, "utf8")) {
    out +=
      byte >= 0x20 && byte <= 0x7e && byte !== 0x25
        ? String.fromCharCode(byte)
        : `%${byte.toString(16).toUpperCase().padStart(2, "0")}`;
  }
  return out;
}
