import { PassThrough, type Readable, Writable } from "node:stream";
import { Exec, type KubeConfig, type V1Status } from "@kubernetes/client-node";
import { ApiTimeoutError, isTransient, type KubeApiCalls } from "./kube-api.js";

/** A command run through `pods/exec` failed (non-zero exit or refused by the server). */
export class PodExecError extends Error {
  override readonly name = "PodExecError";
  /** The command's exit code, when it ran and exited non-zero. */
  exitCode?: number;
}

/** The exit code in an exec's failure Status (details.causes reason "ExitCode"). */
function statusExitCode(status: V1Status): number | undefined {
  const cause = status.details?.causes?.find((c) => c.reason === "ExitCode");
  const code = Number(cause?.message);
  return cause && Number.isInteger(code) ? code : undefined;
}

/** The command's connection was closed on purpose (its `signal` aborted). */
export class PodExecAbortedError extends PodExecError {}

/** The exec's WebSocket could not be opened: nothing was sent yet, so it may be tried again. */
class ExecConnectError extends PodExecError {
  constructor(
    message: string,
    readonly transient: boolean,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/** Whether a failed WebSocket upgrade is worth another try (dropped, refused, 5xx or 429 answer). */
function connectTransient(err: unknown): boolean {
  if (isTransient(err)) return true;
  const message = String((err as { message?: string })?.message ?? err);
  return /ECONNRESET|ECONNREFUSED|ETIMEDOUT|EPIPE|socket hang up|Unexpected server response: (5\d\d|429)/.test(
    message,
  );
}

export interface ExecTarget {
  namespace: string;
  pod: string;
  container: string;
}

/**
 * Runs a command in a pod's container through the API server and resolves once the
 * server reported its Status; rejects with the stderr text when it did not succeed.
 *
 * `stdin` is sent but never half-closed: the command must end by itself once it read what
 * it needs (e.g. `head -c N | …`). Only the `v5.channel.k8s.io` protocol (API servers from
 * 1.29/1.30) can close stdin alone; on `v4.channel.k8s.io` client-node closes the whole
 * socket when stdin ends, and the server's Status is lost. So stdin stays open until the
 * Status arrived, on either protocol.
 *
 * Opening the WebSocket is bounded by the request timeout and retried on transient errors
 * (nothing was sent yet); once open, the command runs as long as it takes, or until `signal`
 * aborts (the connection is closed, rejecting with PodExecAbortedError).
 *
 * Without `io.stderr` the command's stderr is kept (up to 64 KiB) for the error message.
 */
export async function execInPod(
  kc: KubeConfig,
  calls: KubeApiCalls,
  target: ExecTarget,
  command: string[],
  io: { stdin?: Readable; stdout?: Writable; stderr?: Writable; signal?: AbortSignal },
): Promise<void> {
  let stderr = "";
  const stderrSink =
    io.stderr ??
    new Writable({
      write(chunk, _enc, cb) {
        if (stderr.length < 64 * 1024) stderr += chunk.toString();
        cb();
      },
    });
  const what = command.join(" ");
  // What client-node reads stdin from: it never ends (see above); destroyed once settled.
  // client-node reads it only once connected, so a retried connect still finds all of it.
  const held = io.stdin ? new PassThrough() : undefined;
  let inputFailed: ((err: Error) => void) | undefined;
  const onInputError = (err: Error) => inputFailed?.(err);
  if (io.stdin && held) {
    io.stdin.once("error", onInputError);
    io.stdin.pipe(held, { end: false });
  }

  const attempt = () =>
    new Promise<void>((resolve, reject) => {
      let settled = false;
      let socket: { close(): void } | undefined;
      const onAbort = () => {
        settle(new PodExecAbortedError(`${what}: aborted`));
        socket?.close();
      };
      const settle = (err?: Error) => {
        if (settled) return;
        settled = true;
        clearTimeout(connectTimer);
        io.signal?.removeEventListener("abort", onAbort);
        if (err) reject(err);
        else resolve();
      };
      inputFailed = (err) =>
        settle(new PodExecError(`${what}: reading its input: ${err.message}`, { cause: err }));
      const onStatus = (status: V1Status) => {
        if (status.status === "Success") return settle();
        const failure = new PodExecError(
          `${what}: ${status.message ?? "failed"}${stderr ? `: ${stderr.trim()}` : ""}`,
        );
        const exitCode = statusExitCode(status);
        if (exitCode !== undefined) failure.exitCode = exitCode;
        settle(failure);
      };
      const connectTimer = setTimeout(() => {
        const message = `${what}: no answer from the Kubernetes API within ${calls.policy.requestTimeoutMs} ms`;
        settle(new ExecConnectError(message, true, { cause: new ApiTimeoutError(message) }));
      }, calls.policy.requestTimeoutMs);
      if (io.signal?.aborted) return onAbort();
      io.signal?.addEventListener("abort", onAbort);
      new Exec(kc)
        .exec(
          target.namespace,
          target.pod,
          target.container,
          command,
          io.stdout ?? null,
          stderrSink,
          held ?? null,
          false,
          onStatus,
        )
        .then((ws) => {
          clearTimeout(connectTimer);
          socket = ws;
          ws.on("close", () => settle(new PodExecError(`${what}: connection closed without a status`)));
          // Opened after the connect timeout gave up on it: nobody uses it.
          if (settled) ws.close();
        })
        .catch((err: unknown) => {
          const message = (err as Error)?.message ?? String(err);
          settle(new ExecConnectError(`${what}: ${message}`, connectTransient(err), { cause: err }));
        });
    });

  try {
    await calls.retry(what, attempt, undefined, (err) => err instanceof ExecConnectError && err.transient);
  } finally {
    if (io.stdin && held) {
      io.stdin.unpipe(held);
      io.stdin.off("error", onInputError);
      io.stdin.destroy();
      held.destroy();
    }
  }
}
