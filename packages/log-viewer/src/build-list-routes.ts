import { readFileSync } from "node:fs";
import { isStepStatus, type StepStatus } from "@wharf/result-store";
import type { FastifyPluginAsync } from "fastify";
import { buildListPage } from "./build-list-page.js";

/** One build of the list: what the aggregator recorded while relaying it (times: epoch ms). */
export interface BuildListEntry {
  buildRef: string;
  status: StepStatus;
  finished: boolean;
  message: string;
  startedAt: number | null;
  finishedAt: number | null;
  /** wharf-api's branch and project id of the build, when the aggregator learnt them. */
  branch?: string | null;
  projectId?: number | null;
}

/** Where the list comes from: the aggregator's own records (BuildRecordStore in @wharf/relay). */
export interface BuildList {
  recent(opts: { statuses?: StepStatus[]; limit: number }): Promise<BuildListEntry[]>;
}

export interface BuildListRoutesOptions {
  builds: BuildList;
}

const MAX_LIMIT = 500;
const listQuery = {
  type: "object",
  additionalProperties: false,
  properties: {
    // Comma-separated status words: `?status=FAILED,CANCELLED`.
    status: { type: "string", pattern: "^[A-Za-z,]{0,200}$" },
    limit: { type: "integer", minimum: 1, maximum: MAX_LIMIT },
  },
} as const;

const assetsDir = new URL("../assets/", import.meta.url);

/**
 * The build list: `GET /api/builds[?status=A,B][&limit=N]` as JSON (newest first), and the page
 * at `/` and `/builds` that shows it and asks again every few seconds (a handful of rows; a
 * poll keeps it simple and costs the aggregator one indexed query).
 */
export const buildListRoutes: FastifyPluginAsync<BuildListRoutesOptions> = async (app, opts) => {
  const script = readFileSync(new URL("build-list.js", assetsDir), "utf8");
  const style = readFileSync(new URL("theme.css", assetsDir), "utf8");

  app.get<{ Querystring: { status?: string; limit?: number } }>(
    "/api/builds",
    { schema: { querystring: listQuery } },
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
      const builds = await opts.builds.recent({ statuses, limit: req.query.limit ?? 50 });
      return reply.header("cache-control", "no-store").send({ builds });
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
