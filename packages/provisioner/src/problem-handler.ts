import type { Socket } from "node:net";
import type { FastifyError, FastifyReply, FastifyRequest } from "fastify";
import type { ProvisionerApp } from "./app.js";
import { PROBLEM_CONTENT_TYPE, ProblemError, problemTypes } from "./errors.js";

interface AjvIssue {
  instancePath?: string;
  keyword?: string;
  message?: string;
  params?: { missingProperty?: string };
}

/** Fastify's validation error → our problem, naming the parameter at fault. */
function fromValidation(err: FastifyError & { validation: AjvIssue[] }): ProblemError {
  const issue: AjvIssue = err.validation[0] ?? {};
  const context = (err as { validationContext?: string }).validationContext ?? "request";
  const param =
    issue.params?.missingProperty ??
    (issue.instancePath ? issue.instancePath.replace(/^\//, "").replace(/\//g, ".") : undefined);
  if (issue.keyword === "required" && param) {
    return new ProblemError("missing-param", `${param} is required`, param);
  }
  const where = context === "body" ? "body" : context === "querystring" ? "query parameter" : context;
  const detail = param ? `${where} ${param} ${issue.message ?? "is invalid"}` : `${where} ${err.message}`;
  return new ProblemError(context === "body" ? "invalid-body" : "invalid-param", detail, param);
}

/** Every other error fastify raises while reading a request, by its stable code. */
function fromFastify(err: FastifyError): ProblemError | undefined {
  switch (err.code) {
    case "FST_ERR_MAX_PARAM_LENGTH":
      return new ProblemError("uri-too-long", "a path segment is longer than a route parameter may be");
    case "FST_ERR_BAD_URL":
      return new ProblemError("bad-request", "the path is not a valid URL (bad percent-encoding)");
    case "FST_ERR_CTP_BODY_TOO_LARGE":
      return new ProblemError("payload-too-large", err.message);
    case "FST_ERR_CTP_INVALID_MEDIA_TYPE":
    case "FST_ERR_CTP_INVALID_CONTENT_LENGTH":
      return new ProblemError(
        err.code === "FST_ERR_CTP_INVALID_MEDIA_TYPE" ? "unsupported-media-type" : "bad-request",
        err.message,
      );
    case "FST_ERR_CTP_EMPTY_JSON_BODY":
    case "FST_ERR_CTP_INVALID_JSON_BODY":
      return new ProblemError("invalid-body", err.message);
  }
  // Only fastify's own errors (FST_*) describe the request; a library error
  // with a statusCode (dockerode's) is ours and must not become a 4xx.
  if (err.code?.startsWith("FST_") && err.statusCode && err.statusCode >= 400 && err.statusCode < 500) {
    return new ProblemError("bad-request", err.message);
  }
  return undefined;
}

export function sendProblem(reply: FastifyReply, req: FastifyRequest, problem: ProblemError): FastifyReply {
  return reply
    .code(problem.status)
    .type(PROBLEM_CONTENT_TYPE)
    .send(JSON.stringify(problem.toProblem(req.url.split("?")[0])));
}

/**
 * Fastify's `frameworkErrors`: what the router refuses before any hook or handler runs (a path that is
 * not valid percent-encoding, a parameter over maxParamLength) is a problem too, not fastify's own JSON.
 */
export function frameworkProblem(err: FastifyError, req: FastifyRequest, reply: FastifyReply): void {
  sendProblem(reply, req, fromFastify(err) ?? new ProblemError("bad-request", "the request is malformed"));
}

/**
 * Fastify's `clientErrorHandler`: what Node's HTTP parser refuses (a request line it cannot read, a
 * header block over 16 KiB, a request that took too long) is answered as problem+json too. Nothing
 * of the request is logged: the parser's error carries its raw bytes, tokens included.
 */
export function clientProblem(err: NodeJS.ErrnoException, socket: Socket): void {
  if (err.code === "ECONNRESET" || socket.destroyed) return;
  const problem =
    err.code === "ERR_HTTP_REQUEST_TIMEOUT"
      ? new ProblemError("request-timeout", "the request was not received in time")
      : err.code === "HPE_HEADER_OVERFLOW"
        ? new ProblemError("header-too-large", "the request line and headers are over 16 KiB")
        : new ProblemError("bad-request", "the request is not valid HTTP/1.1");
  const { status, title } = problemTypes[problem.code];
  const body = JSON.stringify(problem.toProblem());
  if (socket.writable) {
    socket.write(
      `HTTP/1.1 ${status} ${title}\r\nContent-Type: ${PROBLEM_CONTENT_TYPE}\r\n` +
        `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
  }
  socket.destroy();
}

/**
 * One place turns errors into `application/problem+json`. Anything not in the
 * registry is a bug: logged with its stack, answered as a bare 500 without
 * internals.
 */
export function installProblemHandler(app: ProvisionerApp): void {
  app.setErrorHandler((err: FastifyError, req, reply) => {
    let problem: ProblemError | undefined;
    if (err instanceof ProblemError) problem = err;
    else if (Array.isArray((err as { validation?: unknown }).validation)) {
      problem = fromValidation(err as FastifyError & { validation: AjvIssue[] });
    } else problem = fromFastify(err);
    if (!problem) {
      req.log.error({ err }, "unhandled error");
      problem = new ProblemError("internal", "internal error", undefined, { cause: err });
    } else if (problem.status >= 500) {
      req.log.error({ err }, problem.message);
    }
    return sendProblem(reply, req, problem);
  });
  app.setNotFoundHandler((req, reply) =>
    sendProblem(
      reply,
      req,
      new ProblemError("route-not-found", `no route ${req.method} ${req.url.split("?")[0]}`),
    ),
  );
}
