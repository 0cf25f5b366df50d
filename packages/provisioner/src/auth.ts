import { createHash, timingSafeEqual } from "node:crypto";
import type { FastifyRequest } from "fastify";
import { ProblemError } from "./errors.js";

const digest = (s: string) => createHash("sha256").update(s, "utf8").digest();

/**
 * Checks a presented token against the configured one in constant time.
 * Comparing SHA-256 digests gives equal-length inputs for timingSafeEqual, so
 * neither the content nor the length of the secret leaks through timing.
 */
export function tokenMatches(expected: string, presented: string | undefined): boolean {
  if (presented === undefined) return false;
  return timingSafeEqual(digest(expected), digest(presented));
}

/** The token of a request: `Authorization: Bearer …` or wharf-api's `token` query parameter. */
export function presentedToken(req: FastifyRequest): string | undefined {
  const header = req.headers.authorization;
  if (typeof header === "string") {
    const m = /^Bearer\s+(.+)$/i.exec(header.trim());
    if (m) return m[1];
  }
  const q = req.query as Record<string, unknown> | undefined;
  const t = q?.token;
  return typeof t === "string" ? t : undefined;
}

/** Throws the 401 problem unless the request carries the token. */
export function requireToken(expected: string, req: FastifyRequest): void {
  if (!tokenMatches(expected, presentedToken(req))) {
    throw new ProblemError("unauthorized", "a valid token is required (Authorization: Bearer or ?token=)");
  }
}
