import type * as grpc from "@grpc/grpc-js";
import { status as GrpcStatus } from "@grpc/grpc-js";
import type { BearerAuth } from "./bearer-auth.js";
import { rejectMalformed } from "./malformed-request.js";
import { toServiceError } from "./rpc-errors.js";

/** Writes one message, waiting for 'drain' when the call's buffer is full (a slow client). */
export type Send<Res> = (message: Res) => Promise<void>;

/**
 * Tracks the server-streaming calls in flight, so that shutting the server down ends them with
 * UNAVAILABLE ("come back later") instead of OK, which would tell the client the build is over.
 */
export class LiveStreams {
  private readonly shutdown = new AbortController();

  get shuttingDown(): boolean {
    return this.shutdown.signal.aborted;
  }

  endAll(): void {
    this.shutdown.abort();
  }

  async run<Req, Res>(
    call: grpc.ServerWritableStream<Req, Res>,
    body: (send: Send<Res>, signal: AbortSignal) => Promise<void>,
  ): Promise<void> {
    const stop = new AbortController();
    const onStop = () => stop.abort();
    call.on("cancelled", onStop);
    this.shutdown.signal.addEventListener("abort", onStop);
    try {
      await body((message) => sendWithBackpressure(call, message, stop.signal), stop.signal);
      if (call.cancelled) return;
      if (this.shuttingDown) {
        endWithError(call, { code: GrpcStatus.UNAVAILABLE, details: "worker is shutting down" });
      } else {
        call.end();
      }
    } catch (err) {
      if (!call.cancelled) endWithError(call, toServiceError(err));
    } finally {
      call.off("cancelled", onStop);
      this.shutdown.signal.removeEventListener("abort", onStop);
    }
  }
}

async function sendWithBackpressure<Res>(
  call: grpc.ServerWritableStream<unknown, Res>,
  message: Res,
  signal: AbortSignal,
): Promise<void> {
  if (signal.aborted || call.write(message)) return;
  await new Promise<void>((resolve) => {
    const done = () => {
      call.off("drain", done);
      signal.removeEventListener("abort", done);
      resolve();
    };
    call.on("drain", done);
    signal.addEventListener("abort", done);
  });
}

function endWithError(
  call: grpc.ServerWritableStream<unknown, unknown>,
  err: Partial<grpc.ServiceError>,
): void {
  // grpc-js turns an 'error' event on a server stream into the call's final status.
  call.emit("error", err);
}

/** A unary handler with auth and error mapping around `body`. */
export function unaryHandler<Req, Res>(
  auth: BearerAuth,
  body: (request: Req) => Promise<Res> | Res,
): grpc.handleUnaryCall<Req, Res> {
  return (call, callback) => {
    (async () => {
      auth.check(call.metadata);
      rejectMalformed(call.request);
      return body(call.request);
    })().then(
      (response) => callback(null, response),
      (err: unknown) => callback(toServiceError(err)),
    );
  };
}

/** A server-streaming handler with auth, error mapping, back-pressure and shutdown around `body`. */
export function streamHandler<Req, Res>(
  auth: BearerAuth,
  streams: LiveStreams,
  body: (request: Req, send: Send<Res>, signal: AbortSignal) => Promise<void>,
): grpc.handleServerStreamingCall<Req, Res> {
  return (call) => {
    void streams.run(call, async (send, signal) => {
      auth.check(call.metadata);
      rejectMalformed(call.request);
      await body(call.request, send, signal);
    });
  };
}
