import type http from "node:http";
import type { Database } from "@wharf/db";
import { formatBuildId } from "@wharf/proto/build-id";
import { DbSink } from "./db-sink.js";
import { readText, startWharfApiServer, type WharfApiServer } from "./wharf-api-server.js";

export interface DevSinkOptions {
  db: Database;
  /** Where builds are triggered, exactly as wharf-api triggers them. */
  provisionerUrl: string;
  provisionerToken?: string;
  /** WHARF_INSTANCE sent with every trigger. */
  instance: string;
  host?: string;
  port?: number;
}

/** What `POST /api/dev/builds` takes: the parts of a wharf-api project and build request. */
export interface DevBuildRequest {
  gitUrl: string;
  branch?: string;
  repoName?: string;
  repoGroup?: string;
  stage?: string;
  environment?: string;
  inputs?: Record<string, string>;
}

/**
 * The wharf-api stand-in of `wharf up`: wharf-api's protocol over the embedded database,
 * plus `POST /api/dev/builds`, which does what wharf-api does when a user starts a
 * build: store it as Scheduling and call the provisioner's `POST /api/worker` with the
 * Jenkins-style query string.
 */
export async function startDevSink(opts: DevSinkOptions): Promise<WharfApiServer & { sink: DbSink }> {
  const sink = await DbSink.open(opts.db);
  const server = await startWharfApiServer({
    sink,
    ...(opts.host ? { host: opts.host } : {}),
    ...(opts.port !== undefined ? { port: opts.port } : {}),
    extraRoutes: async (req, res, url) => {
      if (req.method !== "POST" || url.pathname !== "/api/dev/builds") return false;
      await createBuild(req, res, sink, opts);
      return true;
    },
  });
  return Object.assign(server, { sink });
}

async function createBuild(
  req: http.IncomingMessage,
  res: http.ServerResponse,
  sink: DbSink,
  opts: DevSinkOptions,
): Promise<void> {
  const problem = (status: number, title: string, detail?: string) => {
    res.writeHead(status, { "content-type": "application/problem+json" });
    res.end(JSON.stringify({ type: "about:blank", title, status, ...(detail ? { detail } : {}) }));
  };
  let body: DevBuildRequest;
  try {
    body = JSON.parse(await readText(req)) as DevBuildRequest;
  } catch {
    return problem(400, "body is not JSON");
  }
  if (typeof body?.gitUrl !== "string" || body.gitUrl === "") return problem(400, "gitUrl is required");
  const branch = body.branch ?? "main";
  const build = await sink.createBuild({
    gitUrl: body.gitUrl,
    gitBranch: branch,
    ...(body.stage ? { stage: body.stage } : {}),
    ...(body.environment ? { environment: body.environment } : {}),
  });
  // The same parameters wharf-api sends (VARS as YAML-compatible JSON).
  const q = new URLSearchParams({
    BUILD_REF: formatBuildId(build.buildId),
    GIT_FULLURL: body.gitUrl,
    GIT_BRANCH: branch,
    REPO_BRANCH: branch,
    REPO_NAME: body.repoName ?? "",
    REPO_GROUP: body.repoGroup ?? "",
    RUN_STAGES: body.stage ?? "ALL",
    ENVIRONMENT: body.environment ?? "",
    VARS: JSON.stringify(body.inputs ?? {}),
    WHARF_PROJECT_ID: "1",
    WHARF_INSTANCE: opts.instance,
  });
  if (opts.provisionerToken) q.set("token", opts.provisionerToken);
  let answer: Response;
  try {
    answer = await fetch(`${opts.provisionerUrl}/api/worker?${q}`, { method: "POST" });
  } catch (err) {
    await sink.setStatus(build.buildId, "Failed", `provisioner unreachable: ${(err as Error).message}`);
    return problem(502, "provisioner unreachable", (err as Error).message);
  }
  const worker = (await answer.json().catch(() => null)) as unknown;
  if (!answer.ok) {
    await sink.setStatus(build.buildId, "Failed", `provisioner refused the build (${answer.status})`);
    return problem(502, "provisioner refused the build", JSON.stringify(worker));
  }
  res.writeHead(201, { "content-type": "application/json" });
  res.end(JSON.stringify({ buildId: build.buildId, status: build.status, worker }));
}
