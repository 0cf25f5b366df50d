import { createHash } from "node:crypto";
import rateLimit from "@fastify/rate-limit";
import type { FastifyRequest } from "fastify";
import type { ProvisionerApp } from "./app.js";
import { presentedToken } from "./auth.js";
import { PROBLEM_CONTENT_TYPE, ProblemError } from "./errors.js";

/**
 * Longest request target (path and query) in bytes: 8 KiB, what an nginx ingress passes by default
 * (large_client_header_buffers 8k). wharf-api's trigger, VARS included, is far shorter; Node itself
 * refuses a header block over 16 KiB with a bare 431 before any of this runs.
 */
export const DEFAULT_MAX_URL_LENGTH = 8 * 1024;

/**
 * `POST /api/worker` per token and minute. wharf-api sends one per build (and its retries, which
 * count); 120 lets a whole group of projects be triggered at once and cuts a runaway script or a
 * retry loop to 2 a second. The window is fixed, so at its edge up to twice as many may pass.
 */
export const DEFAULT_TRIGGER_RATE = 120;
export const TRIGGER_RATE_WINDOW_MS = 60_000;

/**
 * What a client's requests are counted under: a digest of the token it presented (the token itself is
 * never kept), or its address when it presents none (a provisioner without auth, on loopback).
 */
export function rateKey(req: FastifyRequest): string {
  const token = presentedToken(req);
  if (token === undefined) return `ip:${req.ip}`;
  return `token:${createHash("sha256").update(token, "utf8").digest("base64url").slice(0, 22)}`;
}

/** Answers 414 problem+json to a request target longer than `maxUrlLength`, before auth and routing. */
export function limitUrlLength(app: ProvisionerApp, maxUrlLength: number): void {
  app.addHook("onRequest", async (req, reply) => {
    if (req.url.length <= maxUrlLength) return;
    // Neither the URL nor its path is repeated: wharf-api's tokens travel in the query.
    const problem = new ProblemError("uri-too-long", `the request URL is longer than ${maxUrlLength} bytes`);
    return reply.code(problem.status).type(PROBLEM_CONTENT_TYPE).send(JSON.stringify(problem.toProblem()));
  });
}

/**
 * Registers @fastify/rate-limit for routes that opt in with `config.rateLimit: triggerRateLimit(...)`.
 * It runs as the route's own onRequest hook, so after the token check: refused requests never count.
 * Counters live in this process (an LRU of at most 5000 keys: with auth there is one, the token's);
 * replicas behind a load balancer each count their own share.
 */
export async function registerRateLimit(app: ProvisionerApp): Promise<void> {
  await app.register(rateLimit, { global: false });
}

/** The route config of a rate-limited route; undefined (no limit) for 0. */
export function triggerRateLimit(perMinute: number) {
  if (perMinute <= 0) return undefined;
  return {
    max: perMinute,
    timeWindow: TRIGGER_RATE_WINDOW_MS,
    keyGenerator: rateKey,
    addHeadersOnExceeding: {
      "x-ratelimit-limit": true,
      "x-ratelimit-remaining": true,
      "x-ratelimit-reset": true,
    },
    onExceeded: (req: FastifyRequest, key: string) =>
      req.log.warn({ rateKey: key, limit: perMinute }, "worker requests over the rate limit"),
    errorResponseBuilder: (_req: FastifyRequest, ctx: { after: string; max: number }) =>
      new ProblemError(
        "too-many-requests",
        `more than ${ctx.max} worker requests a minute with this token; retry in ${ctx.after}`,
      ),
  };
}

/**
 * The first string in `value` (an object, array or string, walked without recursion) holding a NUL
 * character, by its path. PostgreSQL text cannot hold NUL: such a value would fail the query (a 500)
 * instead of being refused.
 */
export function nulPath(value: unknown, root: string): string | undefined {
  const stack: [unknown, string][] = [[value, root]];
  while (stack.length > 0) {
    const [v, at] = stack.pop() as [unknown, string];
    if (typeof v === "string") {
      if (v.includes("\u0000")) return at;
    } else if (v !== null && typeof v === "object") {
      for (const [k, child] of Object.entries(v)) {
        const path = at ? `${at}.${k}` : k;
        if (k.includes("\u0000")) return at || "(key)";
        stack.push([child, path]);
      }
    }
  }
  return undefined;
}

/** 400 problem+json for a NUL character anywhere in the path parameters, the query or a parsed body. */
export function rejectNulCharacters(app: ProvisionerApp): void {
  app.addHook("preValidation", async (req) => {
    for (const [part, value] of [
      ["path parameter", req.params],
      ["query parameter", req.query],
      ["body", req.body],
    ] as const) {
      const param = nulPath(value, "");
      if (param !== undefined) {
        // The value is not repeated: it may be a token (GIT_TOKEN).
        const what = param ? `${part} ${param}` : part;
        throw new ProblemError(
          part === "body" ? "invalid-body" : "invalid-param",
          `${what} must not contain a NUL character`,
          param || undefined,
        );
      }
    }
  });
}
