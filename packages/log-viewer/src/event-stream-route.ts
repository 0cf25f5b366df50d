import fastifySseModule, { type fastifySSE } from "@fastify/sse";
import type { FastifyReply } from "fastify";

/*
 * What the log viewer's two event-stream routes (a build's logs, the build list) share in their
 * use of @fastify/sse.
 */

// The package's CommonJS export is the fastify-plugin wrapped function (its hooks must reach our
// routes); its typings only describe the named, unwrapped one.
export const fastifySse = fastifySseModule as unknown as typeof fastifySSE;

/** Aborts when the client goes away (or the response is done): a stream's end. */
export function responseClosed(reply: FastifyReply): AbortSignal {
  const controller = new AbortController();
  reply.raw.once("close", () => controller.abort());
  return controller.signal;
}

/**
 * The answer to HEAD of an event stream, once the route made a GET's checks: the stream's headers
 * and no body. HEAD asks whether the stream is there, not for it, and the plugin never commits a
 * HEAD's headers, so a stream that follows a build (or the list) would never end.
 */
export function answerEventStreamHead(reply: FastifyReply): FastifyReply {
  return reply.type("text/event-stream").header("cache-control", "no-cache").send();
}
