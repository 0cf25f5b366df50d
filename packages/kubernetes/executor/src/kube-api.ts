import {
  type ConfigurationOptions,
  type CoreV1Api,
  Observable,
  type ObservableMiddleware,
  type RequestContext,
  type ResponseContext,
} from "@kubernetes/client-node";
import { DEFAULT_REQUEST_TIMEOUT_MS } from "./settings.js";

/** How the executor calls the Kubernetes API: a timeout per request, and retries of idempotent calls. */
export interface ApiCallPolicy {
  /** Longest wait for one request's answer (the whole response of a REST call). */
  requestTimeoutMs: number;
  /** Attempts of an idempotent call (GET, LIST, DELETE by name) on transient errors, the first included. */
  attempts: number;
  /** Backoff before the 2nd attempt; doubled each time (with jitter) up to maxBackoffMs. */
  backoffMs: number;
  maxBackoffMs: number;
}

export const DEFAULT_API_CALL_POLICY: ApiCallPolicy = {
  requestTimeoutMs: DEFAULT_REQUEST_TIMEOUT_MS,
  attempts: 6,
  backoffMs: 200,
  maxBackoffMs: 5_000,
};

/** A request got no answer in time (it was aborted). */
export class ApiTimeoutError extends Error {
  override readonly name = "ApiTimeoutError";
}

/** A request that may be retried as it is: timeouts, dropped connections, 5xx and 429 answers. */
export function isTransient(err: unknown): boolean {
  if (err instanceof ApiTimeoutError) return true;
  const e = err as { code?: unknown; name?: string; type?: string; errno?: unknown } | undefined;
  if (typeof e?.code === "number") return e.code === 429 || e.code >= 500;
  if (e?.name === "AbortError") return true;
  const code = typeof e?.code === "string" ? e.code : typeof e?.errno === "string" ? e.errno : "";
  if (
    [
      "ECONNRESET",
      "ECONNREFUSED",
      "ETIMEDOUT",
      "EPIPE",
      "EAI_AGAIN",
      "EHOSTUNREACH",
      "ENETUNREACH",
      "ECONNABORTED",
      "UND_ERR_SOCKET",
      "ERR_STREAM_PREMATURE_CLOSE",
    ].includes(code)
  )
    return true;
  // node-fetch: "request to … failed, reason: socket hang up", "Premature close", invalid-json of a cut body.
  return (
    e?.name === "FetchError" &&
    (e.type === "system" || e.type === "body-timeout" || e.type === "invalid-json")
  );
}

/** The server's Retry-After (seconds) on a 429/503, if any. */
function retryAfterMs(err: unknown): number | undefined {
  const headers = (err as { headers?: Record<string, string> })?.headers;
  const value = headers?.["retry-after"] ?? headers?.["Retry-After"];
  const seconds = value === undefined ? Number.NaN : Number(value);
  return Number.isFinite(seconds) && seconds >= 0 ? seconds * 1000 : undefined;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Per-call client-node options: the request is aborted through `signal`. */
function withSignal(signal: AbortSignal): ConfigurationOptions {
  const middleware: ObservableMiddleware = {
    pre: (ctx: RequestContext) => {
      ctx.setSignal(signal);
      return new Observable(Promise.resolve(ctx));
    },
    post: (rsp: ResponseContext) => new Observable(Promise.resolve(rsp)),
  };
  return { middleware: [middleware], middlewareMergeStrategy: "append" };
}

/**
 * Calls of the Kubernetes API with a bounded time each. `read` (GET, LIST and DELETE by name,
 * which are idempotent) retries transient failures with backoff; `write` (create) does not,
 * as a create whose answer was lost may have happened. With a `deadline` (epoch ms) neither
 * waits past it: a request is aborted at the deadline, and no retry starts after it.
 */
export class KubeApiCalls {
  constructor(readonly policy: ApiCallPolicy = DEFAULT_API_CALL_POLICY) {}

  /** One attempt, aborted after `timeoutMs`. */
  async once<T>(
    what: string,
    call: (options: ConfigurationOptions) => Promise<T>,
    timeoutMs: number,
  ): Promise<T> {
    const controller = new AbortController();
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        controller.abort();
        reject(new ApiTimeoutError(`${what}: no answer from the Kubernetes API within ${timeoutMs} ms`));
      }, timeoutMs);
    });
    try {
      return await Promise.race([call(withSignal(controller.signal)), timedOut]);
    } finally {
      clearTimeout(timer);
    }
  }

  private timeout(deadline: number | undefined): number {
    const left = deadline === undefined ? Number.POSITIVE_INFINITY : deadline - Date.now();
    return Math.max(1, Math.min(this.policy.requestTimeoutMs, left));
  }

  read<T>(what: string, call: (options: ConfigurationOptions) => Promise<T>, deadline?: number): Promise<T> {
    return this.retry(what, () => this.once(what, call, this.timeout(deadline)), deadline);
  }

  write<T>(what: string, call: (options: ConfigurationOptions) => Promise<T>, deadline?: number): Promise<T> {
    return this.once(what, call, this.timeout(deadline));
  }

  /** Runs `attempt` until it succeeds, fails for good, the attempts are used up or the deadline passed. */
  async retry<T>(
    _what: string,
    attempt: () => Promise<T>,
    deadline?: number,
    transient: (err: unknown) => boolean = isTransient,
  ): Promise<T> {
    let backoff = this.policy.backoffMs;
    for (let i = 1; ; i++) {
      try {
        return await attempt();
      } catch (err) {
        if (!transient(err) || i >= this.policy.attempts) throw err;
        const wait = Math.min(
          this.policy.maxBackoffMs,
          Math.max(retryAfterMs(err) ?? 0, backoff * (0.5 + Math.random() / 2)),
        );
        if (deadline !== undefined && Date.now() + wait >= deadline) throw err;
        await sleep(wait);
        backoff = Math.min(this.policy.maxBackoffMs, backoff * 2);
      }
    }
  }
}

/** What the executor's parts call the API with. */
export interface KubeClient {
  core: CoreV1Api;
  calls: KubeApiCalls;
}
