import {
  type LiveWorker,
  type WorkerDirectory,
  WorkerDirectoryError,
  workerStateOf,
} from "./worker-directory.js";

export interface ProvisionerDirectoryOptions {
  /** The provisioner's base URL, e.g. http://127.0.0.1:8080 */
  url: string;
  token?: string;
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
  status: string;
  address: string | null;
};

/** Workers as the provisioner lists them (`GET /api/worker`); works for every backend. */
export class ProvisionerDirectory implements WorkerDirectory {
  readonly kind = "provisioner";
  private readonly base: string;

  constructor(private readonly opts: ProvisionerDirectoryOptions) {
    this.base = opts.url.replace(/\/+$/, "");
  }

  async list(signal?: AbortSignal): Promise<LiveWorker[]> {
    const res = await this.request("GET", "/api/worker", signal, this.opts.requestTimeoutMs ?? 10_000);
    const body = (await res.json()) as ProvisionerWorker[] | { list?: ProvisionerWorker[] };
    const rows = Array.isArray(body) ? body : (body.list ?? []);
    return rows.map((w) => ({
      workerId: String(w.workerId),
      buildRef: String(w.buildRef),
      address: w.address || null,
      status: workerStateOf(w.status),
    }));
  }

  async remove(workerId: string, signal?: AbortSignal): Promise<void> {
    const timeoutMs = Math.max(this.opts.requestTimeoutMs ?? 0, REMOVE_TIMEOUT_MS);
    await this.request("DELETE", `/api/worker/${encodeURIComponent(workerId)}`, signal, timeoutMs, [404]);
  }

  private async request(
    method: string,
    path: string,
    signal: AbortSignal | undefined,
    timeoutMs: number,
    okStatuses: number[] = [],
  ) {
    const timeout = AbortSignal.timeout(timeoutMs);
    const headers: Record<string, string> = {};
    if (this.opts.token) headers.authorization = `Bearer ${this.opts.token}`;
    let res: Response;
    try {
      res = await fetch(`${this.base}${path}`, {
        method,
        headers,
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
