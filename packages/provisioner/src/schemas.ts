import { type Static, Type } from "typebox";

/**
 * Schemas first: request validation, handler types and the OpenAPI document all
 * come from these. Names of the create parameters are wharf-cmd's (what wharf-api
 * sends), so they stay SCREAMING_CASE.
 */

export const WORKER_STATUSES = [
  "Unknown",
  "None",
  "Queued",
  "Scheduling",
  "Initializing",
  "Running",
  "Success",
  "Failed",
  "Cancelled",
] as const;
export type WorkerStatus = (typeof WORKER_STATUSES)[number];

/** Statuses that hold one of the WHARF_MAX_WORKERS slots. */
export const ACTIVE_STATUSES: readonly WorkerStatus[] = ["Scheduling", "Initializing", "Running"];
export const TERMINAL_STATUSES: readonly WorkerStatus[] = ["Success", "Failed", "Cancelled"];

/**
 * A wharf-api build id in JSON (proto/build-id.ts: a whole number from 1); the fields keep
 * their wire name `buildRef`.
 */
const BuildIdSchema = Type.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER });

export const WorkerSchema = Type.Object(
  {
    workerId: Type.String(),
    name: Type.String(),
    status: Type.Enum(WORKER_STATUSES),
    createdAt: Type.String({ format: "date-time" }),
    buildRef: BuildIdSchema,
    instance: Type.String(),
    projectId: Type.Union([Type.Integer(), Type.Null()]),
    address: Type.Union([Type.String(), Type.Null()], {
      description: '"host:port" of the worker\'s gRPC server; null while Queued',
    }),
    queuedAt: Type.String({ format: "date-time" }),
    startedAt: Type.Union([Type.String({ format: "date-time" }), Type.Null()]),
    finishedAt: Type.Union([Type.String({ format: "date-time" }), Type.Null()]),
    backend: Type.String(),
    message: Type.Union([Type.String(), Type.Null()]),
    token: Type.Optional(
      Type.String({ description: "the bearer token this worker's gRPC API requires (for the aggregator)" }),
    ),
  },
  { additionalProperties: false },
);
export type Worker = Static<typeof WorkerSchema>;

const text = (description: string) => Type.String({ maxLength: 4096, description });

/**
 * POST /api/worker query. Strings only: a query string has no types, and parsing
 * (BUILD_REF, WHARF_PROJECT_ID, VARS) happens in one place with errors that name
 * the parameter. Unknown parameters are accepted and ignored, as wharf-cmd did.
 */
export const CreateWorkerQuerySchema = Type.Object({
  BUILD_REF: Type.String({ maxLength: 20, description: "wharf-api build id (unsigned integer), required" }),
  GIT_FULLURL: Type.String({ maxLength: 4096, description: "clone URL of the repository, required" }),
  GIT_BRANCH: Type.Optional(text("branch to check out")),
  REPO_BRANCH: Type.Optional(text("defaults to GIT_BRANCH")),
  REPO_GROUP: Type.Optional(text("project group")),
  REPO_NAME: Type.Optional(text("project name")),
  ENVIRONMENT: Type.Optional(text(".wharf-ci.yml environment")),
  RUN_STAGES: Type.Optional(text('"ALL" or one stage name')),
  VARS: Type.Optional(Type.String({ maxLength: 65_536, description: "a JSON or YAML map of input values" })),
  WHARF_INSTANCE: Type.Optional(Type.String({ maxLength: 253, description: "wharf-api instance id" })),
  WHARF_PROJECT_ID: Type.Optional(Type.String({ maxLength: 20, description: "unsigned integer" })),
  GIT_TOKEN: Type.Optional(text("token for cloning over HTTPS")),
  token: Type.Optional(text("the provisioner token (alternative to Authorization: Bearer)")),
});
export type CreateWorkerQuery = Static<typeof CreateWorkerQuerySchema>;

/** Longest a `GET /api/worker?wait=` is held. */
export const MAX_LIST_WAIT_SECONDS = 60;

export const ListWorkersQuerySchema = Type.Object({
  status: Type.Optional(Type.String({ maxLength: 200, description: "one status or a comma-separated list" })),
  instance: Type.Optional(Type.String({ maxLength: 253 })),
  buildRef: Type.Optional(Type.String({ maxLength: 20 })),
  token: Type.Optional(Type.String({ maxLength: 4096 })),
  wait: Type.Optional(
    Type.String({
      pattern: "^[0-9]{1,3}$",
      description:
        "seconds (at most 60); with If-None-Match: hold the answer until the list differs " +
        "from that ETag (a watch by long poll); 304 when it did not change in time",
    }),
  ),
});
export type ListWorkersQuery = Static<typeof ListWorkersQuerySchema>;

export const WorkerIdParamsSchema = Type.Object({
  workerId: Type.String({ minLength: 1, maxLength: 200 }),
});

/**
 * What a worker tells about itself (`WorkerEvent` of @wharf/proto). The `ready` branch allows
 * other properties: fastify's validator removes what a branch does not allow before trying
 * the next one, and would strip an `ended` event down to its name.
 */
export const WorkerEventSchema = Type.Union([
  Type.Object({ event: Type.Literal("ready") }),
  Type.Object(
    {
      event: Type.Literal("ended"),
      status: Type.Union([Type.Literal("Success"), Type.Literal("Failed"), Type.Literal("Cancelled")]),
      message: Type.String({ maxLength: 4096 }),
    },
    { additionalProperties: false },
  ),
]);

/** DELETE's query: the aggregator, having relayed a build to its end, says how it ended. */
export const DeleteWorkerQuerySchema = Type.Object({
  outcome: Type.Optional(
    Type.Union([Type.Literal("Success"), Type.Literal("Failed"), Type.Literal("Cancelled")], {
      description:
        "The build's result as relayed to wharf-api; kept as the worker's final status when the " +
        "worker was still active (without it a deleted active worker counts as Cancelled)",
    }),
  ),
});
export type WorkerOutcome = NonNullable<Static<typeof DeleteWorkerQuerySchema>["outcome"]>;

const MAX_REFS = 10_000;

/**
 * Our own shape `{buildRefs}` or what wharf-api has at hand: its build objects
 * (`{builds:[{buildId}]}`) or a bare array of ids.
 */
export const MissingBodySchema = Type.Union([
  Type.Object({
    buildRefs: Type.Array(BuildIdSchema, { maxItems: MAX_REFS }),
    instance: Type.Optional(Type.String({ maxLength: 253 })),
  }),
  Type.Object({
    builds: Type.Array(
      Type.Union([Type.Object({ buildId: BuildIdSchema }), Type.Object({ buildRef: BuildIdSchema })]),
      { maxItems: MAX_REFS },
    ),
    instance: Type.Optional(Type.String({ maxLength: 253 })),
  }),
  Type.Array(BuildIdSchema, { maxItems: MAX_REFS }),
]);
export type MissingBody = Static<typeof MissingBodySchema>;

export const MISSING_REASONS = ["never-seen", "finished", "lost", "deleted"] as const;
export type MissingReason = (typeof MISSING_REASONS)[number];

export const MissingAnswerSchema = Type.Object({
  buildRef: BuildIdSchema,
  live: Type.Boolean(),
  reason: Type.Optional(Type.Enum(MISSING_REASONS)),
  workerId: Type.Optional(Type.String()),
  status: Type.Optional(Type.String()),
});
export type MissingAnswer = Static<typeof MissingAnswerSchema>;

export const MissingResponseSchema = Type.Object({
  missing: Type.Array(MissingAnswerSchema, { description: "refs without a live worker" }),
  results: Type.Array(MissingAnswerSchema, { description: "one answer per requested ref, in order" }),
});

export const ProblemSchema = Type.Object({
  type: Type.String(),
  title: Type.String(),
  status: Type.Integer(),
  code: Type.String(),
  detail: Type.Optional(Type.String()),
  param: Type.Optional(Type.String()),
  instance: Type.Optional(Type.String()),
});

export const PingSchema = Type.Object({ message: Type.String() });
