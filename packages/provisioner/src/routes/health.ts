import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import { ProblemError } from "../errors.js";
import { PingSchema, ProblemSchema } from "../schemas.js";

/** Ping, liveness and readiness: the routes that need no token. */
export const healthRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.get(
    "/",
    {
      config: { public: true },
      schema: { summary: "Ping (wharf-cmd compatible)", tags: ["health"], response: { 200: PingSchema } },
    },
    async () => ({ message: "pong" }),
  );

  app.get(
    "/healthz",
    {
      config: { public: true },
      schema: { summary: "Liveness", tags: ["health"], response: { 200: PingSchema } },
    },
    async () => ({ message: "ok" }),
  );

  app.get(
    "/readyz",
    {
      config: { public: true },
      schema: {
        summary: "Readiness: the database answers",
        tags: ["health"],
        response: { 200: PingSchema, 503: ProblemSchema },
      },
    },
    async () => {
      if (!(await app.provisioner.ready())) throw new ProblemError("not-ready", "database unreachable");
      return { message: "ready" };
    },
  );

  app.get(
    "/metrics",
    { schema: { summary: "Prometheus metrics", tags: ["health"] } },
    async (_req, reply) => {
      const { registry } = app.provisioner.metrics;
      const text = await registry.metrics();
      return reply.type(registry.contentType).send(text);
    },
  );
};
