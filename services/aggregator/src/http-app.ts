import type { Socket } from "node:net";
import { closeConnectionsWhenClosing, type Logger } from "@wharf/config";
import {
  type BuildList,
  type BuildLogSource,
  buildListRoutes,
  logViewerRoutes,
  viewerAccessHook,
} from "@wharf/log-viewer";
import Fastify, {
  type FastifyBaseLogger,
  type FastifyError,
  type FastifyInstance,
  type FastifyReply,
} from "fastify";
import type { Registry } from "prom-client";

/**
 * Longest request target (path and query) in bytes: 4 KiB. The aggregator's longest legitimate URL is a
 * signed link (`/builds/{ref}?expires=…&sig=…`, under 300 bytes) or a URL with `?token=`.
 */
export const DEFAULT_AGGREGATOR_MAX_URL_LENGTH = 4 * 1024;
/** No route takes a body; one that comes anyway is read to at most 16 KiB. */
export const AGGREGATOR_BODY_LIMIT = 16 * 1024;

export interface AggregatorHttpOptions {
  /** The live logs behind the viewer routes. */
  logSource: BuildLogSource;
  /** The builds this aggregator relayed, for the build list at `/` and `/builds` (none: no list). */
  builds?: BuildList;
  /** WHARF_AGGREGATOR_TOKEN; unset = the log routes are open. */
  viewerToken?: string;
  /** Whether /readyz says ready. */
  ready: () => boolean;
  /** What /metrics serves. */
  registry: Pick<Registry, "contentType" | "metrics">;
  /** WHARF_AGGREGATOR_MAX_URL (default DEFAULT_AGGREGATOR_MAX_URL_LENGTH). */
  maxUrlLength?: number;
  logger?: Logger;
}

/** A problem+json answer in the log viewer's shape (`about:blank` with the status's title). */
function problem(reply: FastifyReply, status: number, title: string, detail: string): FastifyReply {
  return reply
    .code(status)
    .type("application/problem+json")
    .send({ type: "about:blank", title, status, detail });
}

/** What Node's HTTP parser refuses, as problem+json; nothing of the request (tokens) is logged. */
function clientProblem(err: NodeJS.ErrnoException, socket: Socket): void {
  if (err.code === "ECONNRESET" || socket.destroyed) return;
  const [status, title, detail] =
    err.code === "ERR_HTTP_REQUEST_TIMEOUT"
      ? [408, "Request Timeout", "the request was not received in time"]
      : err.code === "HPE_HEADER_OVERFLOW"
        ? [431, "Request Header Fields Too Large", "the request line and headers are over 16 KiB"]
        : [400, "Bad Request", "the request is not valid HTTP/1.1"];
  const body = JSON.stringify({ type: "about:blank", title, status, detail });
  if (socket.writable) {
    socket.write(
      `HTTP/1.1 ${status} ${title}\r\nContent-Type: application/problem+json\r\n` +
        `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
  }
  socket.destroy();
}

/** Fastify's own refusals of a request (FST_* with a 4xx), or undefined for anything else. */
function requestError(err: FastifyError): [number, string] | undefined {
  if (err.code === "FST_ERR_MAX_PARAM_LENGTH") return [414, "a path segment is too long"];
  if (err.code === "FST_ERR_BAD_URL") return [400, "the path is not a valid URL (bad percent-encoding)"];
  if (err.code?.startsWith("FST_") && err.statusCode && err.statusCode >= 400 && err.statusCode < 500) {
    return [err.statusCode, err.message];
  }
  return undefined;
}

/**
 * The aggregator's HTTP app, unstarted: health, readiness and metrics (open), and the log viewer
 * routes (behind the token when there is one). Every refusal is problem+json.
 */
export function buildAggregatorHttpApp(opts: AggregatorHttpOptions): FastifyInstance {
  const maxUrlLength = opts.maxUrlLength ?? DEFAULT_AGGREGATOR_MAX_URL_LENGTH;
  const app = Fastify({
    ...(opts.logger ? { loggerInstance: opts.logger as FastifyBaseLogger } : { logger: false }),
    bodyLimit: AGGREGATOR_BODY_LIMIT,
    // Build refs are up to 128 characters (the routes' pattern); longer is refused as 414.
    routerOptions: { maxParamLength: 200 },
    frameworkErrors: (err, _req, reply) => {
      const [status, detail] = requestError(err) ?? [400, "the request is malformed"];
      problem(reply, status, status === 414 ? "URI Too Long" : "Bad Request", detail);
    },
    clientErrorHandler: clientProblem,
  }) as unknown as FastifyInstance;
  closeConnectionsWhenClosing(app);

  app.addHook("onRequest", async (req, reply) => {
    if (req.url.length <= maxUrlLength) return;
    // Not echoed: the URL may carry the token.
    return problem(reply, 414, "URI Too Long", `the request URL is longer than ${maxUrlLength} bytes`);
  });
  app.setNotFoundHandler((req, reply) =>
    problem(reply, 404, "Not Found", `no route ${req.method} ${req.url.split("?")[0]?.slice(0, 200)}`),
  );
  app.setErrorHandler((err: FastifyError, req, reply) => {
    const known = requestError(err);
    if (known)
      return problem(reply, known[0], known[0] === 413 ? "Payload Too Large" : "Bad Request", known[1]);
    req.log.error({ err }, "aggregator request failed");
    return problem(reply, 500, "Internal Server Error", "internal error");
  });

  app.get("/healthz", async () => ({ status: "ok" }));
  app.get("/readyz", async (_req, reply) => {
    const ready = opts.ready();
    return reply.code(ready ? 200 : 503).send({ ready });
  });
  app.get("/metrics", async (_req, reply) =>
    reply.type(opts.registry.contentType).send(await opts.registry.metrics()),
  );
  // Live logs for developers (SSE, text download, the log page).
  void app.register(async (viewer) => {
    // Health, readiness and metrics stay open; the log routes need the token or a signed link.
    if (opts.viewerToken) viewer.addHook("onRequest", viewerAccessHook({ token: opts.viewerToken }));
    await viewer.register(logViewerRoutes, { source: opts.logSource });
    if (opts.builds) await viewer.register(buildListRoutes, { builds: opts.builds });
  });
  return app;
}
