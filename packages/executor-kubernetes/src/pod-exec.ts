import { type Readable, Writable } from "node:stream";
import { Exec, type KubeConfig, type V1Status } from "@kubernetes/client-node";

/** A command run through `pods/exec` failed (non-zero exit or refused by the server). */
export class PodExecError extends Error {
  override readonly name = "PodExecError";
}

/**
 * Runs a command in a pod's container through the API server and resolves once the
 * server reported its Status; rejects with the stderr text when it did not succeed.
 */
export async function execInPod(
  kc: KubeConfig,
  target: { namespace: string; pod: string; container: string },
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
  await new Promise<void>((resolve, reject) => {
    let settled = false;
    const onStatus = (status: V1Status) => {
      settled = true;
      if (status.status === "Success") resolve();
      else
        reject(
          new PodExecError(
            `${command.join(" ")}: ${status.message ?? "failed"}${stderr ? `: ${stderr.trim()}` : ""}`,
          ),
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
        io.stdin ?? null,
        false,
        onStatus,
      )
      .then((ws) => {
        ws.on("close", () => {
          if (!settled) reject(new PodExecError(`${command.join(" ")}: connection closed without a status`));
        });
      })
      .catch((err: unknown) =>
        reject(new PodExecError(`${command.join(" ")}: ${(err as Error).message}`, { cause: err })),
      );
  });
}
