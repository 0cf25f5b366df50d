import type { Logger } from "@wharf/config";
import type { BuildId } from "@wharf/proto/build-id";
import {
  ListedBuildIds,
  type LiveWorker,
  type WorkerDirectory,
  WorkerDirectoryError,
  type WorkerOutcome,
  workerStateOf,
} from "./worker-directory.js";

export interface ProvisionerDirectoryOptions {
  /** The provisioner's base URL, e.g. http://127.0.0.1:8080 */
  url: string;
  token?: string;
  /** WHARF_INSTANCE: only this wharf-api instance's workers (all when unset). */
  instance?: string;
  /** Per request (default 10 s); a DELETE gets at least REMOVE_TIMEOUT_MS. */
  requestTimeoutMs?: number;
  /** Where a listed worker without a valid build id is told of. */
  log?: Logger;
}

/**
 * The provisioner answers a DELETE once the worker is gone, and a worker stopped mid-build
 * may take the provisioner's whole stop grace (15 s by default) to hand its last lines on.
 */
const REMOVE_TIMEOUT_MS = 60_000;

/** How long one watch request is held by the provisioner (at most its MAX_LIST_WAIT_SECONDS). */
const WATCH_SECONDS = 30;

type ProvisionerWorker = {
  workerId: string;
  /** wharf-api's build id, a JSON number (checked: the provisioner is another process). */
  buildRef: unknown;
  instance?: string;
  status: string;
  address: string | null;
  token?: string;
  createdAt?: string;
};

function triggeredAt(createdAt: string | undefined): { triggeredAt?: number } {
  const ms = createdAt ? Date.parse(createdAt) : Number.NaN;
  return Number.isFinite(ms) ? { triggeredAt: ms } : {};
}

/** Workers as the provisioner lists them (`GET /api/worker`); works for every backend. */
export class ProvisionerDirectory implements WorkerDirectory {
  readonly kind = "provisioner";
  private readonly base: string;
  /** ETag of the last list read; what `changed` watches. */
  private etag: string | undefined;
  private readonly buildIds: ListedBuildIds;

  constructor(private readonly opts: ProvisionerDirectoryOptions) {
    this.base = opts.url.replace(/\/+$/, "");
    this.buildIds = new ListedBuildIds("the provisioner's buildRef", opts.log);
  }

  async list(signal?: AbortSignal): Promise<LiveWorker[]> {
    const { instance } = this.opts;
    const res = await this.request("GET", this.listPath(), signal, this.opts.requestTimeoutMs ?? 10_000);
    this.etag = res.headers.get("etag") ?? undefined;
    const body = (await res.json()) as ProvisionerWorker[] | { list?: ProvisionerWorker[] };
    const all = Array.isArray(body) ? body : (body.list ?? []);
    // Filtered here too: a provisioner that ignored the query must not hand us another tenant's worker.
    const rows = instance === undefined ? all : all.filter((w) => w.instance === instance);
    return rows.flatMap((w) => {
      const workerId = String(w.workerId);
      const buildId = this.buildIds.fromJson(workerId, w.buildRef);
      if (buildId === undefined) return [];
      return {
        workerId,
        buildId,
        address: w.address || null,
        status: workerStateOf(w.status),
        ...(w.token ? { token: w.token } : {}),
        ...(w.instance !== undefined ? { instance: w.instance } : {}),
        ...triggeredAt(w.createdAt),
      };
    });
  }

  /**
   * Resolves when the provisioner's list differs from the last one `list` read: a long poll
   * (`?wait=` with If-None-Match) the provisioner answers on any change of its rows. Never
   * resolves against a provisioner that sends no ETag (an older one): the caller's discovery
   * interval is all there is then. Rejects on errors, so the caller backs off.
   */
  async changed(signal: AbortSignal): Promise<void> {
    for (;;) {
      if (this.etag === undefined) return new Promise(() => {});
      const res = await this.request(
        "GET",
        `${this.listPath()}${this.opts.instance === undefined ? "?" : "&"}wait=${WATCH_SECONDS}`,
        signal,
        WATCH_SECONDS * 1000 + (this.opts.requestTimeoutMs ?? 10_000),
        [304],
        undefined,
        { "if-none-match": this.etag },
      );
      await res.arrayBuffer();
      if (res.status !== 304) return;
    }
  }

  private listPath(): string {
    const { instance } = this.opts;
    return `/api/worker${instance === undefined ? "" : `?instance=${encodeURIComponent(instance)}`}`;
  }

  async startedBuilds(buildIds: BuildId[], signal?: AbortSignal): Promise<Set<BuildId>> {
    const res = await this.request(
      "POST",
      "/api/worker/missing",
      signal,
      this.opts.requestTimeoutMs ?? 10_000,
      [],
      {
        buildRefs: buildIds,
        ...(this.opts.instance === undefined ? {} : { instance: this.opts.instance }),
      },
    );
    const body = (await res.json()) as { results?: { buildRef: BuildId; reason?: string }[] };
    return new Set((body.results ?? []).filter((r) => r.reason !== "never-seen").map((r) => r.buildRef));
  }

  async remove(workerId: string, signal?: AbortSignal, outcome?: WorkerOutcome): Promise<void> {
    const timeoutMs = Math.max(this.opts.requestTimeoutMs ?? 0, REMOVE_TIMEOUT_MS);
    const query = outcome ? `?outcome=${outcome}` : "";
    await this.request(
      "DELETE",
      `/api/worker/${encodeURIComponent(workerId)}${query}`,
      signal,
      timeoutMs,
      [404],
    );
  }

  private async request(
    method: string,
    path: string,
    signal: AbortSignal | undefined,
    timeoutMs: number,
    okStatuses: number[] = [],
    json?: unknown,
    extraHeaders: Record<string, string> = {},
  ) {
    const timeout = AbortSignal.timeout(timeoutMs);
    const headers: Record<string, string> = { ...extraHeaders };
    if (this.opts.token) headers.authorization = `Bearer ${this.opts.token}`;
    if (json !== undefined) headers["content-type"] = "application/json";
    let res: Response;
    try {
      res = await fetch(`${this.base}${path}`, {
        method,
        headers,
        ...(json !== undefined ? { body: JSON.stringify(json) } : {}),
        signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
      });
    } catch (err) {
      throw new WorkerDirectoryError(`provisioner ${method} ${path}: ${(err as Error).message}`, {
        cause: err,
      });
    }
    if (!res.ok && !okStatuses.includes(res.status)) {
      const text = await res.text().catch(() => "");
      throw new WorkerDirectoryError(
        `provisioner ${method} ${path}: HTTP ${res.status} ${text.slice(0, 200)}`,
      );
    }
    return res;
  }
}
