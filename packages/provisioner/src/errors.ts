/**
 * The one registry of errors the provisioner's API answers with. Each has a stable
 * `code` (clients may switch on it), an HTTP status and a title; they are sent as
 * RFC 9457 `application/problem+json` bodies by the app's error handler.
 */
export const problemTypes = {
  "bad-request": { status: 400, title: "Bad request" },
  "invalid-param": { status: 400, title: "Invalid parameter" },
  "missing-param": { status: 400, title: "Missing parameter" },
  "invalid-body": { status: 400, title: "Invalid request body" },
  unauthorized: { status: 401, title: "Unauthorized" },
  "not-found": { status: 404, title: "Not found" },
  "route-not-found": { status: 404, title: "Route not found" },
  "method-not-allowed": { status: 405, title: "Method not allowed" },
  "request-timeout": { status: 408, title: "Request timeout" },
  "payload-too-large": { status: 413, title: "Payload too large" },
  "uri-too-long": { status: 414, title: "URI too long" },
  "unsupported-media-type": { status: 415, title: "Unsupported media type" },
  "too-many-requests": { status: 429, title: "Too many requests" },
  "header-too-large": { status: 431, title: "Request header fields too large" },
  "backend-failed": { status: 502, title: "Worker backend failed" },
  "not-ready": { status: 503, title: "Not ready" },
  internal: { status: 500, title: "Internal error" },
} as const;

export type ProblemCode = keyof typeof problemTypes;

/** The body of every error response. */
export interface Problem {
  type: string;
  title: string;
  status: number;
  code: ProblemCode;
  detail?: string;
  /** The query parameter or body field at fault, when there is one. */
  param?: string;
  instance?: string;
}

export const PROBLEM_CONTENT_TYPE = "application/problem+json";

/** An error that maps onto one entry of the registry. */
export class ProblemError extends Error {
  override readonly name = "ProblemError";
  readonly status: number;

  constructor(
    readonly code: ProblemCode,
    detail: string,
    readonly param?: string,
    options?: { cause?: unknown },
  ) {
    super(detail, options);
    this.status = problemTypes[code].status;
  }

  toProblem(instance?: string): Problem {
    const t = problemTypes[this.code];
    return {
      type: `urn:wharf:provisioner:problem:${this.code}`,
      title: t.title,
      status: t.status,
      code: this.code,
      detail: this.message,
      ...(this.param ? { param: this.param } : {}),
      ...(instance ? { instance } : {}),
    };
  }
}

/** A worker id the store or a backend does not know. */
export class WorkerNotFoundError extends ProblemError {
  constructor(workerId: string) {
    super("not-found", `no worker with id "${workerId}"`);
  }
}

/** A backend call (process spawn, Docker engine) that failed. */
export class BackendError extends Error {
  override readonly name = "BackendError";
}
