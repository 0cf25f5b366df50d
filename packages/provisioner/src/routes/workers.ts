import { createHash } from "node:crypto";
import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import { type BuildId, BuildIdError, parseBuildId } from "@wharf/proto/build-id";
import { TRACEPARENT_METADATA } from "@wharf/tracing";
import { Type } from "typebox";
import { parseBuildRequest } from "../build-request.js";
import { ProblemError } from "../errors.js";
import { triggerRateLimit } from "../limits.js";
import {
  CreateWorkerQuerySchema,
  DeleteWorkerQuerySchema,
  ListWorkersQuerySchema,
  MAX_LIST_WAIT_SECONDS,
  ProblemSchema,
  WORKER_STATUSES,
  WorkerIdParamsSchema,
  WorkerSchema,
  type WorkerStatus,
} from "../schemas.js";

const problems = { 400: ProblemSchema, 401: ProblemSchema };

function parseStatuses(text: string | undefined): WorkerStatus[] | undefined {
  if (text === undefined || text.trim() === "") return undefined;
  const out = text.split(",").map((s) => s.trim());
  for (const s of out) {
    if (!(WORKER_STATUSES as readonly string[]).includes(s)) {
      throw new ProblemError(
        "invalid-param",
        `status must be one of ${WORKER_STATUSES.join(", ")}`,
        "status",
      );
    }
  }
  return out as WorkerStatus[];
}

function parseBuildIdFilter(text: string | undefined): BuildId | undefined {
  if (text === undefined || text.trim() === "") return undefined;
  try {
    return parseBuildId(text, "buildRef");
  } catch (err) {
    if (!(err instanceof BuildIdError)) throw err;
    throw new ProblemError("invalid-param", err.message, "buildRef", { cause: err });
  }
}

/** GET /api/worker, DELETE /api/worker/:workerId. */
export const workerRoutes: FastifyPluginAsyncTypebox = async (app) => {
  // A server closing answers its watchers at once instead of waiting for their timeouts.
  const closing = new AbortController();
  app.addHook("preClose", async () => closing.abort());
  app.get(
    "/api/worker",
    {
      schema: {
        summary: "List workers (deleted ones are not listed)",
        tags: ["worker"],
        querystring: ListWorkersQuerySchema,
        response: {
          200: Type.Array(WorkerSchema),
          304: Type.Null({ description: "unchanged" }),
          ...problems,
        },
      },
    },
    async (req, reply) => {
      const statuses = parseStatuses(req.query.status);
      const buildId = parseBuildIdFilter(req.query.buildRef);
      const filter = {
        ...(statuses ? { statuses } : {}),
        ...(req.query.instance !== undefined ? { instance: req.query.instance } : {}),
        ...(buildId !== undefined ? { buildId } : {}),
      };
      // A watch: the aggregator learns of a new worker when it is queued or started, not at
      // its next discovery poll. Each change of any row is checked against this filter.
      const seen = req.headers["if-none-match"];
      const waitSeconds = Math.min(Number(req.query.wait ?? 0), MAX_LIST_WAIT_SECONDS);
      const deadline = Date.now() + waitSeconds * 1000;
      const closed = new AbortController();
      req.raw.once("close", () => closed.abort());
      const stop = AbortSignal.any([closed.signal, closing.signal]);
      for (;;) {
        const workers = await app.provisioner.listWorkers(filter);
        const etag = `"${createHash("sha256").update(JSON.stringify(workers)).digest("base64url").slice(0, 27)}"`;
        reply.header("etag", etag);
        if (seen !== etag) return workers;
        const left = deadline - Date.now();
        if (left <= 0 || stop.aborted || !(await app.provisioner.nextChange(left, stop)))
          return reply.code(304).send(null);
      }
    },
  );

  app.delete(
    "/api/worker/:workerId",
    {
      schema: {
        summary: "Stop and remove a worker (its steps too)",
        tags: ["worker"],
        params: WorkerIdParamsSchema,
        querystring: DeleteWorkerQuerySchema,
        response: { 204: Type.Null({ description: "deleted" }), 404: ProblemSchema, ...problems },
      },
    },
    async (req, reply) => {
      await app.provisioner.deleteWorker(req.params.workerId, req.query.outcome);
      return reply.code(204).send(null);
    },
  );
};

/**
 * POST /api/worker, wharf-cmd's trigger: every parameter is in the query string
 * and the body is ignored whatever its content type (wharf-api sends none), so
 * this plugin replaces the parsers with one that only drains it (bodyLimit still
 * applies).
 */
export const createWorkerRoute: FastifyPluginAsyncTypebox<{ triggerRate: number }> = async (app, opts) => {
  const rateLimit = triggerRateLimit(opts.triggerRate);
  app.removeAllContentTypeParsers();
  app.addContentTypeParser("*", { parseAs: "buffer" }, (_req, _body, done) => done(null, undefined));

  app.post(
    "/api/worker",
    {
      ...(rateLimit ? { config: { rateLimit } } : {}),
      schema: {
        summary: "Queue a worker for a build (wharf-cmd compatible, query parameters only)",
        description:
          "201 with the new worker; 200 with the existing one when a worker for the same " +
          "BUILD_REF and WHARF_INSTANCE is live or was removed within WHARF_WORKER_RETENTION " +
          "(safe for retries: a build never runs twice).",
        tags: ["worker"],
        querystring: CreateWorkerQuerySchema,
        response: {
          200: WorkerSchema,
          201: WorkerSchema,
          414: ProblemSchema,
          429: ProblemSchema,
          ...problems,
        },
      },
    },
    async (req, reply) => {
      const request = parseBuildRequest(req.query);
      // wharf-api's trace, when it sends one (W3C Trace Context): the build's spans join it.
      const parent = req.headers[TRACEPARENT_METADATA];
      const { worker, created } = await app.provisioner.createWorker(
        request,
        typeof parent === "string" ? parent : undefined,
      );
      return reply.code(created ? 201 : 200).send(worker);
    },
  );
};
