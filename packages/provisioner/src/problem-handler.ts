import type { FastifyError, FastifyReply, FastifyRequest } from "fastify";
import type { ProvisionerApp } from "./app.js";
import { PROBLEM_CONTENT_TYPE, ProblemError } from "./errors.js";

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
