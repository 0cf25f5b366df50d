import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import type { BuildId } from "@wharf/proto/build-id";
import { Type } from "typebox";
import { ProblemError } from "../errors.js";
import { type MissingBody, MissingBodySchema, MissingResponseSchema, ProblemSchema } from "../schemas.js";

/** The refs and instance of any of the accepted body shapes. */
export function missingRequest(body: MissingBody): { buildIds: BuildId[]; instance?: string } {
  if (Array.isArray(body)) return { buildIds: body };
  const instance = body.instance !== undefined ? { instance: body.instance } : {};
  if ("buildRefs" in body) return { buildIds: body.buildRefs, ...instance };
  return {
    buildIds: body.builds.map((b) => ("buildId" in b ? b.buildId : b.buildRef)),
    ...instance,
  };
}

/** POST /api/worker/missing: which builds wharf-api thinks are running have no live worker. */
export const missingRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.post(
    "/api/worker/missing",
    {
      schema: {
        summary: "Which of these builds have no live worker, and why",
        description:
          "Body: {buildRefs: number[], instance?} or {builds: [{buildId}], instance?} or a bare array. " +
          "reason is never-seen, finished, lost or deleted.",
        tags: ["worker"],
        querystring: Type.Object({ instance: Type.Optional(Type.String({ maxLength: 253 })) }),
        body: MissingBodySchema,
        response: { 200: MissingResponseSchema, 400: ProblemSchema, 401: ProblemSchema },
      },
    },
    async (req) => {
      // Fastify skips body validation when there is no body at all.
      if (req.body === undefined || req.body === null) {
        throw new ProblemError("invalid-body", "a body {buildRefs: number[]} is required");
      }
      const { buildIds, instance } = missingRequest(req.body);
      const results = await app.provisioner.missing(buildIds, instance ?? req.query.instance);
      return { missing: results.filter((r) => !r.live), results };
    },
  );
};
