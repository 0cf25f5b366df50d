import { readFileSync } from "node:fs";
import { type BuildId, formatBuildId } from "@wharf/proto/build-id";
import { isStepStatus, type StepStatus } from "@wharf/result-store";
import type { FastifyPluginAsync } from "fastify";
import { BuildListFeed } from "./build-list-feed.js";
import { buildListPage } from "./build-list-page.js";
import { answerEventStreamHead, fastifySse, responseClosed } from "./event-stream-route.js";

/** One build of the list: what the aggregator recorded while relaying it (times: epoch ms). */
export interface BuildListEntry {
  buildId: BuildId;
  status: StepStatus;
  finished: boolean;
  message: string;
  startedAt: number | null;
  finishedAt: number | null;
  /** wharf-api's branch and project id of the build, when the aggregator learnt them. */
  branch?: string | null;
  projectId?: number | null;
}

/** An entry as the list's JSON has it: the build id as `buildRef` text, as it always was. */
function entryJson({
  buildId,
  ...rest
}: BuildListEntry): Omit<BuildListEntry, "buildId"> & { buildRef: string } {
  return { buildRef: formatBuildId(buildId), ...rest };
}

/** Where the list comes from: the aggregator's own records (BuildRecordStore in @wharf/relay). */
export interface BuildList {
  recent(opts: { statuses?: StepStatus[]; limit: number }): Promise<BuildListEntry[]>;
}

export interface BuildListRoutesOptions {
  builds: BuildList;
  /** How often an open list's query runs while a page follows it (default 1 s; see BuildListFeed). */
  pollMs?: number;
  /** Interval of the `: heartbeat` comments on the list's event stream (default 15 s). */
  heartbeatMs?: number;
}

const MAX_LIMIT = 500;
const listQuery = {
  type: "object",
  additionalProperties: false,
  properties: {
    // Comma-separated status words: `?status=FAILED,CANCELLED`.
    status: { type: "string", pattern: "^[A-Za-z,]{0,200}$" },
    limit: { type: "integer", minimum: 1, maximum: MAX_LIMIT },
    follow: { type: "boolean" },
  },
} as const;

const assetsDir = new URL("../assets/", import.meta.url);

/**
 * The build list: `GET /api/builds[?status=A,B][&limit=N]` as JSON (newest first); with
 * `?follow=true` (or `Accept: text/event-stream`) as Server-Sent Events, a `builds` event with
 * the same JSON at once and whenever the list changed (BuildListFeed); and the page at `/` and
 * `/builds` that follows it.
 */
export const buildListRoutes: FastifyPluginAsync<BuildListRoutesOptions> = async (app, opts) => {
  const script = readFileSync(new URL("build-list.js", assetsDir), "utf8");
  const style = readFileSync(new URL("theme.css", assetsDir), "utf8");
  await app.register(fastifySse, { heartbeatInterval: opts.heartbeatMs ?? 15_000 });
  const feed = new BuildListFeed(opts.builds, opts.pollMs ?? 1000, (err) =>
    app.log.warn({ err }, "build list query failed"),
  );
  const shuttingDown = new AbortController();
  app.addHook("preClose", async () => {
    shuttingDown.abort();
    feed.close();
  });

  app.get<{ Querystring: { status?: string; limit?: number; follow?: boolean } }>(
    "/api/builds",
    { schema: { querystring: listQuery }, sse: { kind: "manual" } },
    async (req, reply) => {
      const words = (req.query.status ?? "").split(",").filter(Boolean);
      const unknown = words.filter((w) => !isStepStatus(w.toUpperCase()));
      if (unknown.length > 0) {
        return reply
          .code(400)
          .type("application/problem+json")
          .send({
            type: "about:blank",
            title: "Bad Request",
            status: 400,
            detail: `unknown status ${unknown.join(", ")}`,
          });
      }
      const statuses = words.map((w) => w.toUpperCase() as StepStatus);
      const limit = req.query.limit ?? 50;
      if (req.query.follow === true || req.headers.accept?.includes("text/event-stream")) {
        if (req.method === "HEAD") return answerEventStreamHead(reply);
        const gone = AbortSignal.any([responseClosed(reply), shuttingDown.signal]);
        let sending = Promise.resolve();
        feed.subscribe(
          { statuses, limit },
          (list) => {
            // In order, one at a time; a connection that failed is over (the abort ends the handler).
            sending = sending
              .then(async () => {
                if (reply.sse.isConnected)
                  await reply.sse.send({
                    event: "builds",
                    data: { builds: list.builds.map(entryJson) },
                    retry: 1000,
                  });
              })
              .catch(() => {});
          },
          gone,
        );
        await new Promise<void>((resolve) => gone.addEventListener("abort", () => resolve(), { once: true }));
        await sending;
        return;
      }
      const builds = await opts.builds.recent({ statuses, limit });
      return reply.header("cache-control", "no-store").send({ builds: builds.map(entryJson) });
    },
  );
  app.get("/builds/-/build-list.js", async (_req, reply) =>
    reply.type("text/javascript; charset=utf-8").header("cache-control", "no-cache").send(script),
  );
  app.get("/builds/-/theme.css", async (_req, reply) =>
    reply.type("text/css; charset=utf-8").header("cache-control", "no-cache").send(style),
  );
  // Both resolve relative URLs against the same folder (`/builds` has no trailing slash).
  for (const url of ["/", "/builds"]) {
    app.get(url, async (_req, reply) =>
      reply
        .type("text/html; charset=utf-8")
        .header("cache-control", "no-store")
        .header("content-security-policy", "default-src 'self'; base-uri 'none'")
        .send(buildListPage()),
    );
  }
};
