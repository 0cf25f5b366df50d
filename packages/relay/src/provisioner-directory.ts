import {
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
}

/**
 * The provisioner answers a DELETE once the worker is gone, and a worker stopped mid-build
 * may take the provisioner's whole stop grace (15 s by default) to hand its last lines on.
 */
const REMOVE_TIMEOUT_MS = 60_000;

type ProvisionerWorker = {
  workerId: string;
  buildRef: string;
  instance?: string;
  status: string;
  address: string | null;
  token?: string;
};

/** Workers as the provisioner lists them (`GET /api/worker`); works for every backend. */
export class ProvisionerDirectory implements WorkerDirectory {
  readonly kind = "provisioner";
  private readonly base: string;

  constructor(private readonly opts: ProvisionerDirectoryOptions) {
    this.base = opts.url.replace(/\/+$/, "");
  }

  async list(signal?: AbortSignal): Promise<LiveWorker[]> {
    const { instance } = this.opts;
    const query = instance === undefined ? "" : `?instance=${encodeURIComponent(instance)}`;
    const res = await this.request(
      "GET",
      `/api/worker${query}`,
      signal,
      this.opts.requestTimeoutMs ?? 10_000,
    );
    const body = (await res.json()) as ProvisionerWorker[] | { list?: ProvisionerWorker[] };
    const all = Array.isArray(body) ? body : (body.list ?? []);
    // Filtered here too: a provisioner that ignored the query must not hand us another tenant's worker.
    const rows = instance === undefined ? all : all.filter((w) => w.instance === instance);
    return rows.map((w) => ({
      workerId: String(w.workerId),
      buildRef: String(w.buildRef),
      address: w.address || null,
      status: workerStateOf(w.status),
      ...(w.token ? { token: w.token } : {}),
    }));
  }

  async startedBuilds(buildRefs: string[], signal?: AbortSignal): Promise<Set<string>> {
    const res = await this.request(
      "POST",
      "/api/worker/missing",
      signal,
      this.opts.requestTimeoutMs ?? 10_000,
      [],
      {
        buildRefs: buildRefs.map(Number),
        ...(this.opts.instance === undefined ? {} : { instance: this.opts.instance }),
      },
    );
    const body = (await res.json()) as { results?: { buildRef: number; reason?: string }[] };
    return new Set(
      (body.results ?? []).filter((r) => r.reason !== "never-seen").map((r) => String(r.buildRef)),
    );
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
  ) {
    const timeout = AbortSignal.timeout(timeoutMs);
    const headers: Record<string, string> = {};
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
