import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import { Type } from "typebox";
import { presentedToken } from "../auth.js";
import { ProblemSchema, WorkerEventSchema, WorkerIdParamsSchema } from "../schemas.js";

/**
 * POST /api/worker/:workerId/events: a worker tells that it serves gRPC and that its build
 * ended (`WorkerEvent`), so the scheduler need not probe it each round. Outside the
 * provisioner's own token: a worker holds only its own gRPC token, which is checked instead.
 */
export const workerEventRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.post(
    "/api/worker/:workerId/events",
    {
      config: { public: true },
      schema: {
        summary: "A worker tells an event of its own (ready, ended); its own gRPC token as bearer",
        tags: ["worker"],
        params: WorkerIdParamsSchema,
        body: WorkerEventSchema,
        response: {
          204: Type.Null({ description: "taken" }),
          400: ProblemSchema,
          401: ProblemSchema,
          404: ProblemSchema,
        },
      },
    },
    async (req, reply) => {
      await app.provisioner.workerEvent(req.params.workerId, req.body, presentedToken(req));
      return reply.code(204).send(null);
    },
  );
};
