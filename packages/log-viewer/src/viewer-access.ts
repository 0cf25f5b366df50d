import { createHmac, timingSafeEqual } from "node:crypto";
import type { FastifyReply, FastifyRequest } from "fastify";

/**
 * Who may read build logs from the aggregator. Either the aggregator's token
 * (WHARF_AGGREGATOR_TOKEN: `Authorization: Bearer …`, `?token=…`, or the cookie the page sets
 * on its first load), or a link to one build that wharf-api or wharf-web signed with that token:
 *
 *   /builds/{ref}?expires={unix seconds}&sig={base64url(HMAC-SHA256(token, "{ref}.{expires}"))}
 *
 * A link opens that build's page, log and summary until `expires`, nothing else. The page
 * keeps what let it in as an HttpOnly cookie, so its event stream and downloads need no query.
 */
export interface ViewerAccessOptions {
  token: string;
  /** Seconds since 1970, for tests. */
  nowSeconds?: () => number;
}

const TOKEN_COOKIE = "wharf_token";
const linkCookie = (buildRef: string) => `wharf_link_${buildRef}`;

/** `expires=…&sig=…` for a link to `buildRef` valid until `expiresAt` (unix seconds). */
export function signBuildLink(token: string, buildRef: string, expiresAt: number): string {
  return new URLSearchParams({
    expires: String(expiresAt),
    sig: linkSignature(token, buildRef, expiresAt),
  }).toString();
}

function linkSignature(token: string, buildRef: string, expiresAt: number): string {
  return createHmac("sha256", token).update(`${buildRef}.${expiresAt}`).digest("base64url");
}

function sameSecret(given: string | undefined, expected: string): boolean {
  if (given === undefined) return false;
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

function cookies(header: string | undefined): Map<string, string> {
  const out = new Map<string, string>();
  for (const part of (header ?? "").split(";")) {
    const eq = part.indexOf("=");
    if (eq > 0) out.set(part.slice(0, eq).trim(), part.slice(eq + 1).trim());
  }
  return out;
}

/** The build a viewer URL is about: `/api/builds/{ref}/…` or `/builds/{ref}` (not `/builds/-/` assets). */
function buildRefOf(path: string): string | undefined {
  const m = /^\/(?:api\/)?builds\/([^/?]+)/.exec(path);
  const ref = m?.[1] ? decodeURIComponent(m[1]) : undefined;
  return ref === "-" ? undefined : ref;
}

type Query = Record<string, string | undefined>;

/**
 * A fastify `onRequest` hook for the viewer routes: lets through what the token or a valid
 * link allows, answers 401 (problem+json) otherwise. The static page assets are open.
 */
export function viewerAccessHook(opts: ViewerAccessOptions) {
  const now = opts.nowSeconds ?? (() => Math.floor(Date.now() / 1000));
  const validLink = (buildRef: string, expires: string | undefined, sig: string | undefined) => {
    const at = Number(expires);
    if (!Number.isSafeInteger(at) || at < now()) return false;
    return sameSecret(sig, linkSignature(opts.token, buildRef, at));
  };

  return async (req: FastifyRequest, reply: FastifyReply) => {
    const path = req.url.split("?")[0] ?? "";
    if (path.startsWith("/builds/-/")) return;
    const query = req.query as Query;
    const jar = cookies(req.headers.cookie);
    const bearer = /^Bearer (.+)$/i.exec(req.headers.authorization ?? "")?.[1];
    // The build pages and the build list (`/`, `/builds`): opened with `?token=`, they keep it
    // as a cookie for the requests their scripts make.
    const isPage = path === "/" || path === "/builds" || path.startsWith("/builds/");
    const secure = req.protocol === "https" ? "; Secure" : "";

    if ([bearer, query.token, jar.get(TOKEN_COOKIE)].some((t) => sameSecret(t, opts.token))) {
      if (isPage && sameSecret(query.token, opts.token))
        reply.header(
          "set-cookie",
          `${TOKEN_COOKIE}=${opts.token}; Path=/; HttpOnly; SameSite=Strict${secure}`,
        );
      return;
    }
    const buildRef = buildRefOf(path);
    if (buildRef !== undefined) {
      if (validLink(buildRef, query.expires, query.sig)) {
        if (isPage) {
          const maxAge = Number(query.expires) - now();
          reply.header(
            "set-cookie",
            `${linkCookie(buildRef)}=${query.expires}.${query.sig}; Path=/; Max-Age=${maxAge}; HttpOnly; SameSite=Strict${secure}`,
          );
        }
        return;
      }
      const [expires, sig] = (jar.get(linkCookie(buildRef)) ?? "").split(".");
      if (validLink(buildRef, expires, sig)) return;
    }
    return reply
      .code(401)
      .header("www-authenticate", 'Bearer realm="wharf aggregator"')
      .type("application/problem+json")
      .send({
        type: "about:blank",
        title: "Unauthorized",
        status: 401,
        detail: "a token (WHARF_AGGREGATOR_TOKEN) or a signed link to this build is needed",
      });
  };
}
