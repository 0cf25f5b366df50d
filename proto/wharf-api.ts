import { parseBuildId } from "./build-id.js";

/**
 * wharf-api v5 as wharf speaks it: the build status vocabulary and the routes the aggregator
 * calls, the log viewer reads and the wharf-api doubles (tests, `wharf up`'s dev sink) serve.
 * The one definition on both sides, so a client and the double it is tested against cannot
 * drift apart. (A subpath of its own: no gRPC is loaded for it.)
 */

/** wharf-api's build statuses, in the order of their `statusId` (its `BuildStatus` enum). */
export const WHARF_API_BUILD_STATUSES = ["Scheduling", "Running", "Completed", "Failed"] as const;
export type WharfApiBuildStatus = (typeof WHARF_API_BUILD_STATUSES)[number];

export function isWharfApiBuildStatus(value: unknown): value is WharfApiBuildStatus {
  return typeof value === "string" && (WHARF_API_BUILD_STATUSES as readonly string[]).includes(value);
}

/** The `statusId` wharf-api stores and filters by for a status. */
export function wharfApiStatusId(status: WharfApiBuildStatus): number {
  return WHARF_API_BUILD_STATUSES.indexOf(status);
}

/** The status of a `statusId`; undefined for a number wharf-api v5 does not define. */
export function wharfApiStatusOf(statusId: number): WharfApiBuildStatus | undefined {
  return WHARF_API_BUILD_STATUSES[statusId];
}

/** A build wharf-api will not move again. */
export function isFinalWharfApiStatus(status: WharfApiBuildStatus | null | undefined): boolean {
  return status === "Completed" || status === "Failed";
}

/**
 * The HTTP routes, as templates: `{name}` is a path parameter. Clients fill them
 * (`wharfApiPath`), doubles match them (`wharfApiRoute`).
 */
export const WHARF_API_ROUTES = {
  /** GET: the build list (`limit`, repeated `statusId` filters). */
  builds: "/api/build",
  /** GET: one build (response.Build). */
  build: "/api/build/{buildId}",
  /** PUT: the build's status `{ status, message, timestamp }`. */
  buildStatus: "/api/build/{buildId}/status",
  /** GET: the build's stored log lines. */
  buildLog: "/api/build/{buildId}/log",
  /** POST: an artifact upload, multipart field `files`. */
  artifactUpload: "/api/build/{buildId}/artifact",
  /** GET: the build's artifacts. */
  artifacts: "/api/build/{buildId}/artifacts",
  /** GET: one artifact's bytes. */
  artifact: "/api/build/{buildId}/artifact/{artifactId}",
} as const;
export type WharfApiRoute = keyof typeof WHARF_API_ROUTES;

/** wharf-api's gRPC method the aggregator streams log lines to (h2c, `wharf/api/v5/builds.proto`). */
export const CREATE_LOG_STREAM_PATH = "/wharf.api.v5.Builds/CreateLogStream";

/** The path of `route` with its parameters filled in (numbers as they are, strings URI-encoded). */
export function wharfApiPath(route: WharfApiRoute, params: Record<string, number | string> = {}): string {
  return WHARF_API_ROUTES[route].replace(/\{(\w+)\}/g, (_, name: string) => {
    const value = params[name];
    if (value === undefined) throw new Error(`wharf-api route ${route} needs ${name}`);
    return encodeURIComponent(String(value));
  });
}

const matchers = new Map<WharfApiRoute, RegExp>();

/**
 * Matches a request path against `route`; its numeric parameters, or undefined when it is
 * another path. (wharf-api's ids are all unsigned integers; a `{buildId}` that parseBuildId
 * refuses, 0 or "007", names no build, so the path is not this route's.)
 */
export function wharfApiRoute(route: WharfApiRoute, path: string): Record<string, number> | undefined {
  let re = matchers.get(route);
  if (!re) {
    re = new RegExp(`^${WHARF_API_ROUTES[route].replace(/\{(\w+)\}/g, "(?<$1>\\d+)")}$`);
    matchers.set(route, re);
  }
  const m = re.exec(path);
  if (!m) return undefined;
  const params = m.groups ?? {};
  if (params.buildId !== undefined) {
    try {
      parseBuildId(params.buildId, "{buildId}");
    } catch {
      return undefined;
    }
  }
  return Object.fromEntries(Object.entries(params).map(([k, v]) => [k, Number(v)]));
}
