import { type BuildId, formatBuildId } from "@wharf/proto/build-id";
import type { Problem } from "./errors.js";
import type { MissingAnswer, Worker } from "./schemas.js";

export interface ProvisionerClientOptions {
  /** Base URL, e.g. http://127.0.0.1:5009 */
  url: string;
  token?: string;
  /** Per-request timeout (default 30 s). */
  timeoutMs?: number;
}

/** wharf-cmd's POST /api/worker parameters (string values, as in the query string). */
export type CreateWorkerParams = Partial<
  Record<
    | "BUILD_REF"
    | "GIT_FULLURL"
    | "GIT_BRANCH"
    | "REPO_BRANCH"
    | "REPO_GROUP"
    | "REPO_NAME"
    | "ENVIRONMENT"
    | "RUN_STAGES"
    | "VARS"
    | "WHARF_INSTANCE"
    | "WHARF_PROJECT_ID"
    | "GIT_TOKEN",
    string
  >
>;

/** An error answer of the provisioner, with its problem body when there was one. */
export class ProvisionerClientError extends Error {
  override readonly name = "ProvisionerClientError";
  constructor(
    message: string,
    readonly status: number,
    readonly problem?: Problem,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** A small client of the provisioner's REST API (the CLI and tests use it). */
export class ProvisionerClient {
  constructor(private readonly opts: ProvisionerClientOptions) {}

  private async request(method: string, pathAndQuery: string, body?: unknown): Promise<Response> {
    const headers: Record<string, string> = {};
    if (this.opts.token) headers.authorization = `Bearer ${this.opts.token}`;
    if (body !== undefined) headers["content-type"] = "application/json";
    const url = new URL(pathAndQuery, this.opts.url);
    let res: Response;
    try {
      res = await fetch(url, {
        method,
        headers,
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
        signal: AbortSignal.timeout(this.opts.timeoutMs ?? 30_000),
      });
    } catch (err) {
      throw new ProvisionerClientError(
        `cannot reach the provisioner at ${this.opts.url}: ${(err as Error).message}`,
        0,
        undefined,
        {
          cause: err,
        },
      );
    }
    if (res.ok) return res;
    const text = await res.text();
    let problem: Problem | undefined;
    try {
      problem = JSON.parse(text) as Problem;
    } catch {
      problem = undefined;
    }
    const detail = problem?.detail ?? (text || res.statusText);
    throw new ProvisionerClientError(
      `${method} ${url.pathname}: ${res.status} ${detail}`,
      res.status,
      problem,
    );
  }

  async createWorker(params: CreateWorkerParams): Promise<{ worker: Worker; created: boolean }> {
    const q = new URLSearchParams(
      Object.entries(params).filter(([, v]) => v !== undefined) as [string, string][],
    );
    const res = await this.request("POST", `/api/worker?${q}`);
    return { worker: (await res.json()) as Worker, created: res.status === 201 };
  }

  async listWorkers(
    filter: { status?: string; instance?: string; buildId?: BuildId } = {},
  ): Promise<Worker[]> {
    const q = new URLSearchParams();
    if (filter.status) q.set("status", filter.status);
    if (filter.instance !== undefined) q.set("instance", filter.instance);
    if (filter.buildId !== undefined) q.set("buildRef", formatBuildId(filter.buildId));
    const res = await this.request("GET", `/api/worker?${q}`);
    return (await res.json()) as Worker[];
  }

  async deleteWorker(workerId: string): Promise<void> {
    await this.request("DELETE", `/api/worker/${encodeURIComponent(workerId)}`);
  }

  async missing(buildIds: BuildId[], instance?: string): Promise<MissingAnswer[]> {
    const res = await this.request("POST", "/api/worker/missing", {
      buildRefs: buildIds,
      ...(instance !== undefined ? { instance } : {}),
    });
    return ((await res.json()) as { results: MissingAnswer[] }).results;
  }
}
