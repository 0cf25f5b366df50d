import { type BuildId, BuildIdError, parseBuildId } from "@wharf/proto/build-id";
import { BuildVarsError, parseBuildVars } from "@wharf/proto/vars";
import type { WorkerEnv } from "@wharf/proto/worker-env";
import { ProblemError } from "./errors.js";
import type { CreateWorkerQuery } from "./schemas.js";

/** One build as asked for by wharf-api, parsed and checked; stored with the worker row. */
export interface BuildRequest {
  buildId: BuildId;
  instance: string;
  projectId: number | null;
  gitUrl: string;
  gitBranch?: string;
  repoBranch?: string;
  repoGroup?: string;
  repoName?: string;
  environment?: string;
  /** "ALL" or one stage name. */
  runStages: string;
  /** Input values; wharf-api sends them as a YAML map in VARS. */
  vars: Record<string, string>;
  gitToken?: string;
  /** The W3C traceparent of the span this build's worker is a child of (tracing on). */
  traceparent?: string;
}

const UINT = /^\d{1,16}$/;

/** `parse` of the parameter's text, its BuildIdError as a 400 naming the parameter. */
function parseParam<T>(value: string, param: string, parse: (text: string, what: string) => T): T {
  try {
    return parse(value, param);
  } catch (err) {
    if (!(err instanceof BuildIdError)) throw err;
    throw new ProblemError("invalid-param", err.message, param, { cause: err });
  }
}

function parseUint(value: string, param: string): number {
  const t = value.trim();
  if (!UINT.test(t) || !Number.isSafeInteger(Number(t))) {
    throw new ProblemError("invalid-param", `${param} must be an unsigned integer, got "${value}"`, param);
  }
  return Number(t);
}

/** VARS (see parseBuildVars), its problems as a 400 naming the parameter. */
export function parseVars(textValue: string | undefined, param = "VARS"): Record<string, string> {
  try {
    return parseBuildVars(textValue);
  } catch (err) {
    if (!(err instanceof BuildVarsError)) throw err;
    throw new ProblemError("invalid-param", `${param} ${err.message}`, param, { cause: err });
  }
}

function optional(v: string | undefined): string | undefined {
  return v === undefined || v.trim() === "" ? undefined : v;
}

/** Turns the POST /api/worker query into a BuildRequest, naming the parameter on any error. */
export function parseBuildRequest(q: CreateWorkerQuery): BuildRequest {
  if (q.BUILD_REF === undefined || q.BUILD_REF.trim() === "") {
    throw new ProblemError("missing-param", "BUILD_REF is required", "BUILD_REF");
  }
  const buildId = parseParam(q.BUILD_REF, "BUILD_REF", parseBuildId);
  const gitUrl = optional(q.GIT_FULLURL);
  if (!gitUrl) throw new ProblemError("missing-param", "GIT_FULLURL is required", "GIT_FULLURL");
  const projectIdText = optional(q.WHARF_PROJECT_ID);
  const gitBranch = optional(q.GIT_BRANCH);
  const repoBranch = optional(q.REPO_BRANCH) ?? gitBranch;
  const req: BuildRequest = {
    buildId,
    instance: q.WHARF_INSTANCE?.trim() ?? "",
    projectId: projectIdText ? parseUint(projectIdText, "WHARF_PROJECT_ID") : null,
    gitUrl,
    runStages: optional(q.RUN_STAGES) ?? "ALL",
    vars: parseVars(q.VARS),
  };
  const extra: [keyof BuildRequest, string | undefined][] = [
    ["gitBranch", gitBranch],
    ["repoBranch", repoBranch],
    ["repoGroup", optional(q.REPO_GROUP)],
    ["repoName", optional(q.REPO_NAME)],
    ["environment", optional(q.ENVIRONMENT)],
    ["gitToken", optional(q.GIT_TOKEN)],
  ];
  for (const [key, v] of extra) if (v !== undefined) (req as unknown as Record<string, unknown>)[key] = v;
  return req;
}

/** The build's part of the worker's env contract (`toWorkerEnv`); the backend adds where it runs. */
export function workerBuild(workerId: string, req: BuildRequest): WorkerEnv {
  return {
    buildId: req.buildId,
    workerId,
    instance: req.instance,
    ...(req.projectId !== null ? { projectId: String(req.projectId) } : {}),
    gitUrl: req.gitUrl,
    runStages: req.runStages,
    vars: req.vars,
    ...pick({
      gitBranch: req.gitBranch,
      repoBranch: req.repoBranch,
      repoGroup: req.repoGroup,
      repoName: req.repoName,
      environment: req.environment,
      gitToken: req.gitToken,
      traceparent: req.traceparent,
    }),
  };
}

function pick<T extends Record<string, string | undefined>>(fields: T): Partial<T> {
  return Object.fromEntries(Object.entries(fields).filter(([, v]) => v)) as Partial<T>;
}
