import { Readable } from "node:stream";
import { type BuildId, BuildIdError, formatBuildId, parseBuildId } from "@wharf/proto/build-id";
import type { FastifyError, FastifyPluginAsync, FastifyReply } from "fastify";
import { type BuildLogSource, BuildNotFoundError, LogSourceUnavailableError } from "./build-log-source.js";
import { answerEventStreamHead, fastifySse, responseClosed } from "./event-stream-route.js";
import { streamLogEvents } from "./log-event-stream.js";
import type { LogStreamEvent } from "./log-events.js";
import { viewerSummary } from "./log-events.js";
import { LOG_RECORDS_CONTENT_TYPE, LOG_RECORDS_LAST_ID_HEADER, recordsOf } from "./log-records.js";
import { logText } from "./log-text.js";
import { loadViewerAssets, viewerPage } from "./viewer-page.js";

export interface LogViewerRoutesOptions {
  /** Where the logs come from: usually a WorkerLogSource with a WharfApiLogSource as history. */
  source: BuildLogSource;
  /** Interval of the `: heartbeat` comments on idle event streams (default 15 s). */
  heartbeatMs?: number;
  /** Reconnect delay the event stream tells browsers (`retry:`, default 1 s). */
  retryMs?: number;
}

class BadRequestError extends Error {}

// Checked by parseBuildId in the handlers (`buildIdOf`); the schema only bounds the text.
const params = {
  type: "object",
  required: ["buildRef"],
  properties: { buildRef: { type: "string", maxLength: 128 } },
} as const;
const logsQuery = {
  type: "object",
  additionalProperties: false,
  properties: {
    follow: { type: "boolean" },
    after: { type: "integer", minimum: 0 },
    format: { type: "string", enum: ["text", "sse", "records"] },
    ansi: { type: "string", enum: ["keep", "strip"] },
    step: { type: "integer", minimum: 0 },
  },
} as const;

type LogsQuery = {
  follow?: boolean;
  after?: number;
  format?: "text" | "sse" | "records";
  ansi?: "keep" | "strip";
  step?: number;
};
type RefParams = { buildRef: string };

/** The route's build id; text that is not one is the client's mistake (400), not an unknown build. */
function buildIdOf(params: RefParams): BuildId {
  try {
    return parseBuildId(params.buildRef, "the build in the path");
  } catch (err) {
    if (err instanceof BuildIdError) throw new BadRequestError(err.message, { cause: err });
    throw err;
  }
}

/**
 * The live log routes (see README.md): `GET /api/builds/:buildRef/logs` as Server-Sent Events
 * (`?follow=true`, or `Accept: text/event-stream` for what there is now) or as plain text,
 * `GET /api/builds/:buildRef/summary`, and the page `GET /builds/:buildRef` with its assets.
 */
export const logViewerRoutes: FastifyPluginAsync<LogViewerRoutesOptions> = async (app, opts) => {
  const { source } = opts;
  const retryMs = opts.retryMs ?? 1000;
  const assets = loadViewerAssets();
  await app.register(fastifySse, { heartbeatInterval: opts.heartbeatMs ?? 15_000 });
  // Event streams last as long as a build; closing the server ends them (clients reconnect elsewhere
  // by Last-Event-ID) instead of waiting for every build to finish.
  const shuttingDown = new AbortController();
  app.addHook("preClose", async () => shuttingDown.abort());
  const closeSignal = (reply: FastifyReply) => AbortSignal.any([responseClosed(reply), shuttingDown.signal]);

  app.setErrorHandler((err: FastifyError, _req, reply) => {
    const [status, title] =
      err instanceof BuildNotFoundError
        ? [404, "Not Found"]
        : err instanceof LogSourceUnavailableError
          ? [503, "Service Unavailable"]
          : err instanceof BadRequestError || err.validation
            ? [400, "Bad Request"]
            : [500, "Internal Server Error"];
    if (status === 500) reply.log.error({ err }, "log viewer request failed");
    return reply
      .code(status)
      .type("application/problem+json")
      .send({ type: "about:blank", title, status, detail: err.message });
  });

  app.get<{ Params: RefParams; Querystring: LogsQuery }>(
    "/api/builds/:buildRef/logs",
    { schema: { params, querystring: logsQuery }, sse: { kind: "manual" } },
    async (req, reply) => {
      const buildId = buildIdOf(req.params);
      const q = req.query;
      const wantsEvents =
        q.follow === true || q.format === "sse" || (q.format !== "text" && acceptsEvents(req.headers.accept));
      const closed = closeSignal(reply);
      const summary = await source.summary(buildId, closed);
      if (q.format === "records") {
        return reply
          .type(LOG_RECORDS_CONTENT_TYPE)
          .header("cache-control", "no-store")
          .header(LOG_RECORDS_LAST_ID_HEADER, String(summary.lastLogId))
          .send(Readable.from(recordsOf(source, { buildId, lastLogId: summary.lastLogId }, closed)));
      }
      if (!wantsEvents) {
        const text = logText(source, buildId, summary, closed, {
          keepColours: q.ansi === "keep",
          ...(q.step !== undefined ? { stepId: q.step } : {}),
        });
        const ref = formatBuildId(buildId);
        const name = q.step === undefined ? `build-${ref}` : `build-${ref}-step-${q.step}`;
        return reply
          .type("text/plain; charset=utf-8")
          .header("content-disposition", `inline; filename="${name}.log"`)
          .header("cache-control", "no-store")
          .send(Readable.from(text));
      }
      const afterLogId = resumeId(req.headers["last-event-id"]) ?? q.after ?? 0;
      if (afterLogId > summary.lastLogId) {
        throw new BadRequestError(`line ${afterLogId} is beyond the last line (${summary.lastLogId})`);
      }
      if (req.method === "HEAD") return answerEventStreamHead(reply);
      let first = true;
      const send = async (e: LogStreamEvent) => {
        if (!reply.sse.isConnected) return;
        const id = e.event === "log" ? String(e.id) : undefined;
        await reply.sse.send({ event: e.event, id, data: e.data, retry: first ? retryMs : undefined });
        first = false;
      };
      await streamLogEvents({
        source,
        buildId,
        summary,
        afterLogId,
        follow: q.follow === true,
        signal: closed,
        send,
      });
    },
  );

  app.get<{ Params: RefParams }>(
    "/api/builds/:buildRef/summary",
    { schema: { params } },
    async (req, reply) => {
      const summary = await source.summary(buildIdOf(req.params), closeSignal(reply));
      return reply.header("cache-control", "no-store").send(viewerSummary(summary));
    },
  );

  app.get("/builds/-/viewer.js", async (_req, reply) =>
    reply.type("text/javascript; charset=utf-8").header("cache-control", "no-cache").send(assets.script),
  );
  app.get("/builds/-/viewer.css", async (_req, reply) =>
    reply.type("text/css; charset=utf-8").header("cache-control", "no-cache").send(assets.style),
  );
  app.get<{ Params: RefParams }>("/builds/:buildRef", { schema: { params } }, async (req, reply) => {
    const buildId = buildIdOf(req.params);
    try {
      await source.summary(buildId, closeSignal(reply));
    } catch (err) {
      // Only an unknown build is refused: a worker that is briefly unreachable is the page's to retry.
      if (err instanceof BuildNotFoundError) throw err;
    }
    return reply
      .type("text/html; charset=utf-8")
      .header("cache-control", "no-store")
      .header(
        "content-security-policy",
        "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; base-uri 'none'",
      )
      .send(viewerPage(buildId));
  });
};

/** Only an explicit `text/event-stream` asks for events; browsers' `*\/*` gets the text. */
function acceptsEvents(accept: string | undefined): boolean {
  return accept?.toLowerCase().includes("text/event-stream") ?? false;
}

function resumeId(header: string | string[] | undefined): number | undefined {
  if (header === undefined) return undefined;
  const value = Array.isArray(header) ? header[0] : header;
  if (value === undefined || value === "") return undefined;
  if (!/^\d{1,15}$/.test(value)) throw new BadRequestError(`Last-Event-ID must be a log id, got "${value}"`);
  return Number(value);
}
