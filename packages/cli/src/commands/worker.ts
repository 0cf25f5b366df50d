import { type Command, InvalidArgumentError } from "commander";
import { collectInput, resolveUserPath } from "../invocation.js";

function parsePort(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new InvalidArgumentError("expected a port number");
  return n;
}

/**
 * `wharf worker serve` and `wharf run`. The worker service is imported when one of
 * them runs, so `wharf lint` does not load executors and gRPC — and through its
 * `./commands` entry, not its index: a dynamic import uses every export of what it
 * loads, so the index would bring the worker's HTTP server (fastify) onto its start.
 */
export function register(program: Command): void {
  const worker = program.command("worker").description("the build worker");
  worker
    .command("serve")
    .description("run the build described by WHARF_* env vars and serve its results over gRPC until released")
    .option("--port <port>", "gRPC port (WHARF_WORKER_PORT, default 5010)", parsePort)
    .option(
      "--standby",
      "load everything, then take the build's environment from one JSON line on stdin (the local backend's standby workers)",
    )
    .action(async (flags: { port?: number; standby?: boolean }) => {
      const { serveWorker } = await import("@wharf/worker-service/commands");
      await serveWorker(process.env, flags);
    });

  program
    .command("run")
    .description(
      "run a pipeline here and stream its logs (exit 0 success, 1 failed, 2 invalid, 130 cancelled)",
    )
    .argument("[dir]", "directory holding .wharf-ci.yml", ".")
    .option("--backend <kind>", "executor: local, docker or cri (WHARF_CRI_ENDPOINT)", "local")
    .option("-s, --stage <name>", "run only this stage")
    .option("-e, --env <name>", "environment to use")
    .option("-i, --input <key=value>", "input value (repeatable)", collectInput, {})
    .option("--serve", "also serve results over gRPC, while running and after, until Ctrl-C or SIGTERM")
    .option("--exit-after-build", "with --serve: stop serving and exit as soon as the build ends")
    .option("--port <port>", "gRPC port with --serve (0: any free port, printed on stderr)", parsePort, 5010)
    .action(async (dir: string, flags: Omit<import("@wharf/worker-service/commands").RunFlags, "dir">) => {
      const { runPipelineHere } = await import("@wharf/worker-service/commands");
      process.exitCode = await runPipelineHere({ ...flags, dir: resolveUserPath(dir) });
    });
}
