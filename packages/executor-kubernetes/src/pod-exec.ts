import { PassThrough, type Readable, Writable } from "node:stream";
import { Exec, type KubeConfig, type V1Status } from "@kubernetes/client-node";

/** A command run through `pods/exec` failed (non-zero exit or refused by the server). */
export class PodExecError extends Error {
  override readonly name = "PodExecError";
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
 */
export async function execInPod(
  kc: KubeConfig,
  target: ExecTarget,
  command: string[],
  io: { stdin?: Readable; stdout?: Writable },
): Promise<void> {
  let stderr = "";
  const stderrSink = new Writable({
    write(chunk, _enc, cb) {
      if (stderr.length < 64 * 1024) stderr += chunk.toString();
      cb();
    },
  });
  const what = command.join(" ");
  // What client-node reads stdin from: it never ends (see above); destroyed once settled.
  const held = io.stdin ? new PassThrough() : undefined;
  let inputFailed: ((err: Error) => void) | undefined;
  const onInputError = (err: Error) => inputFailed?.(err);
  if (io.stdin && held) {
    io.stdin.once("error", onInputError);
    io.stdin.pipe(held, { end: false });
  }
  try {
    await new Promise<void>((resolve, reject) => {
      let settled = false;
      const settle = (err?: Error) => {
        if (settled) return;
        settled = true;
        if (err) reject(err);
        else resolve();
      };
      inputFailed = (err) =>
        settle(new PodExecError(`${what}: reading its input: ${err.message}`, { cause: err }));
      const onStatus = (status: V1Status) => {
        if (status.status === "Success") settle();
        else
          settle(
            new PodExecError(`${what}: ${status.message ?? "failed"}${stderr ? `: ${stderr.trim()}` : ""}`),
          );
      };
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
          ws.on("close", () => settle(new PodExecError(`${what}: connection closed without a status`)));
          if (settled) ws.close();
        })
        .catch((err: unknown) =>
          settle(new PodExecError(`${what}: ${(err as Error).message}`, { cause: err })),
        );
    });
  } finally {
    if (io.stdin && held) {
      io.stdin.unpipe(held);
      io.stdin.off("error", onInputError);
      io.stdin.destroy();
      held.destroy();
    }
  }
}
