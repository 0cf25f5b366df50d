import type { IncomingMessage, ServerResponse } from "node:http";
import swagger from "@fastify/swagger";
import swaggerUi from "@fastify/swagger-ui";
import type { TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import { closeConnectionsWhenClosing, type Logger } from "@wharf/config";
import Fastify, { type FastifyBaseLogger, type FastifyInstance, type RawServerDefault } from "fastify";
import secureJson from "secure-json-parse";
import { requireToken } from "./auth.js";
import { ProblemError } from "./errors.js";
import {
  DEFAULT_MAX_URL_LENGTH,
  DEFAULT_TRIGGER_RATE,
  limitUrlLength,
  registerRateLimit,
  rejectNulCharacters,
} from "./limits.js";
import { clientProblem, frameworkProblem, installProblemHandler } from "./problem-handler.js";
import type { Provisioner } from "./provisioner.js";
import { healthRoutes } from "./routes/health.js";
import { missingRoutes } from "./routes/missing.js";
import { workerEventRoutes } from "./routes/worker-events.js";
import { createWorkerRoute, workerRoutes } from "./routes/workers.js";

declare module "fastify" {
  interface FastifyInstance {
    provisioner: Provisioner;
  }
  interface FastifyContextConfig {
    /** Served without the token (ping, health). */
    public?: boolean;
  }
}

/** The app's instance type: TypeBox-typed routes, our logger. */
export type ProvisionerApp = FastifyInstance<
  RawServerDefault,
  IncomingMessage,
  ServerResponse,
  FastifyBaseLogger,
  TypeBoxTypeProvider
>;

export interface AppOptions {
  provisioner: Provisioner;
  /** WHARF_PROVISIONER_TOKEN; unset = no auth. */
  token?: string;
  logger?: Logger;
  /** Largest request body in bytes (default 1 MiB). */
  bodyLimit?: number;
  /** WHARF_PROVISIONER_MAX_URL: longest path and query in bytes, else 414 (default DEFAULT_MAX_URL_LENGTH). */
  maxUrlLength?: number;
  /** WHARF_PROVISIONER_TRIGGER_RATE: `POST /api/worker` per token and minute, else 429; 0 = no limit (default DEFAULT_TRIGGER_RATE). */
  triggerRate?: number;
}

/**
 * The provisioner's HTTP API. Returns the instance unstarted: `main` listens,
 * tests may `inject()`.
 */
export async function buildApp(opts: AppOptions): Promise<ProvisionerApp> {
  const app = Fastify({
    ...(opts.logger ? { loggerInstance: opts.logger as FastifyBaseLogger } : {}),
    bodyLimit: opts.bodyLimit ?? 1024 * 1024,
    return503OnClosing: true,
    // Closing does not wait on clients: a watcher's long poll, or a DELETE whose caller went
    // away, would otherwise hold the close (a deleted worker's removal is retried by the
    // reconcile, and the scheduler's close still waits for removals under way).
    forceCloseConnections: true,
    // Query schemas are all strings (parsed where errors can name the param);
    // coercion would turn a missing body into [0].
    ajv: { customOptions: { coerceTypes: false } },
    routerOptions: { ignoreTrailingSlash: true, maxParamLength: 200 },
    frameworkErrors: frameworkProblem,
    clientErrorHandler: clientProblem,
  }).withTypeProvider<TypeBoxTypeProvider>();

  // A stopping provisioner must not wait 72 s on a kept-alive aggregator connection.
  closeConnectionsWhenClosing(app);
  app.decorate("provisioner", opts.provisioner);
  installProblemHandler(app);
  // Before the token check: an oversized URL is refused without being looked at.
  limitUrlLength(app, opts.maxUrlLength ?? DEFAULT_MAX_URL_LENGTH);
  rejectNulCharacters(app);

  // An empty JSON body is "no body" (schema validation then names what is missing).
  app.removeContentTypeParser("application/json");
  app.addContentTypeParser("application/json", { parseAs: "string" }, (_req, body, done) => {
    const text = (body as string).trim();
    if (text === "") return done(null, undefined);
    try {
      done(null, secureJson.parse(text, undefined, { protoAction: "error", constructorAction: "error" }));
    } catch (err) {
      done(
        new ProblemError("invalid-body", `body is not valid JSON: ${(err as Error).message}`, undefined, {
          cause: err,
        }),
      );
    }
  });

  if (opts.token) {
    const token = opts.token;
    app.addHook("onRequest", async (req) => {
      if (req.routeOptions.config?.public) return;
      requireToken(token, req);
    });
  }

  const { httpDuration } = opts.provisioner.metrics;
  app.addHook("onResponse", async (req, reply) => {
    httpDuration.observe(
      { method: req.method, route: req.routeOptions.url ?? "unmatched", status: String(reply.statusCode) },
      reply.elapsedTime / 1000,
    );
  });

  await app.register(swagger, {
    openapi: {
      openapi: "3.0.3",
      info: {
        title: "Wharf provisioner API",
        description: "Starts one worker per build (wharf-cmd compatible).",
        version: "1.0.0",
      },
      components: {
        securitySchemes: {
          bearer: { type: "http", scheme: "bearer" },
          token: { type: "apiKey", in: "query", name: "token" },
        },
      },
      security: [{ bearer: [] }, { token: [] }],
    },
  });
  await app.register(swaggerUi, { routePrefix: "/api/docs" });

  await app.register(healthRoutes);
  await app.register(workerRoutes);
  await app.register(workerEventRoutes);
  await app.register(missingRoutes);
  await registerRateLimit(app);
  await app.register(createWorkerRoute, { triggerRate: opts.triggerRate ?? DEFAULT_TRIGGER_RATE });
  return app;
}
