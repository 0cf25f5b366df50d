import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { buildInfo, ConfigError, createLogger, GracefulShutdown, type Logger } from "@wharf/config";
import type { BuildResult } from "@wharf/engine";
import { encodeWorkerExitReport, type WorkerEvent } from "@wharf/proto";
import type { BuildId } from "@wharf/proto/build-id";
import { WORKER_ENV } from "@wharf/proto/worker-env";
import type { startWorkerHttp } from "./http.js";
import { formatSummary, printLogs } from "./log-printer.js";
import { compileWorkerOptions } from "./options.js";
import { startWorker } from "./worker.js";

/**
 * `wharf worker serve`: run the build given by env, serve it until released or SIGTERM, then
 * exit 0. With `standby`, the build comes on stdin once it is known (./standby.ts).
 */
export async function serveWorker(
  env: NodeJS.ProcessEnv,
  flags: { port?: number; standby?: boolean },
): Promise<never> {
  if (flags.standby) {
    const { awaitStandbyAssignment } = await import("./standby.js");
    await awaitStandbyAssignment();
  }
  const log = createLogger("worker");
  const opts = compileWorkerOptions(env, flags.port === undefined ? {} : { port: flags.port });
  const shutdown = new GracefulShutdown(log, opts.stopGraceMs + opts.releaseGraceMs + 10_000);
  shutdown.handleSignals(0);
  // Tracing (OTLP) only when an endpoint is configured; its SDK is not loaded otherwise.
  const { compileTracingSettings, startTracing } = await import("@wharf/tracing");
  const tracing = await startTracing("wharf-worker", buildInfo.version, compileTracingSettings(env));
  shutdown.add("tracing", () => tracing.shutdown());
  const running = await startWorker(opts, log, true, tracing.tracer);
  // Ready once gRPC serves; `ended` only after `ready` was told, so the provisioner never
  // reads them in the wrong order.
  const { endedEvent, tellProvisioner } = await import("./provisioner-events.js");
  const tell = (event: WorkerEvent) =>
    opts.eventsUrl
      ? tellProvisioner(opts.eventsUrl, opts.workerId, opts.token, event, log)
      : Promise.resolve(false);
  const ready = tell({ event: "ready" });
  let http: Awaited<ReturnType<typeof startWorkerHttp>> | undefined;
  let releasedOrIdle = false;
  // A signal (the provisioner deleting the worker, a cancel) stops the build but still hands
  // its last lines to the aggregator; after Release or the idle timeout there is nothing to hand.
  // Health and metrics stay up while the worker waits.
  shutdown.add("worker", async () => {
    if (releasedOrIdle) await running.close();
    else await running.stop("the worker was told to stop (deleted or shut down)", opts.releaseGraceMs);
    await http?.close();
  });
  // Health and metrics (prom-client) load once gRPC already answers: off the start path.
  if (opts.httpPort >= 0) {
    const { startWorkerHttp } = await import("./http.js");
    http = await startWorkerHttp(running.store, opts.host, opts.httpPort);
  }
  log.info({ buildRef: opts.buildId, grpcPort: running.grpcPort, ...buildInfo }, "worker serving");
  const result = await running.finished;
  log.info({ status: result?.status ?? "FAILED" }, "build finished; waiting to be released");
  if (opts.terminationMessagePath) await leaveExitReport(opts.terminationMessagePath, result, log);
  const ended = ready.then(() => tell(endedEvent(running.store.summary())));
  const idle =
    opts.idleTimeoutMs > 0
      ? new Promise((r) => setTimeout(r, opts.idleTimeoutMs).unref())
      : new Promise(() => {});
  await Promise.race([running.released, idle]);
  releasedOrIdle = true;
  // Released: the aggregator's DELETE tells the outcome too, so a slow provisioner is not waited for long.
  await Promise.race([ended, new Promise((r) => setTimeout(r, 1_000).unref())]);
  await shutdown.shutdown();
  process.exit(0);
}

const REPORTED_STATUS = { SUCCESS: "Success", FAILED: "Failed", CANCELLED: "Cancelled" } as const;

/** Writes the build's result where the provisioner finds it after this process exited (WorkerExitReport). */
async function leaveExitReport(file: string, result: BuildResult | null, log: Logger): Promise<void> {
  const report = result
    ? { status: REPORTED_STATUS[result.status], message: result.message }
    : { status: "Failed" as const, message: "the build could not be run" };
  try {
    await fs.writeFile(file, encodeWorkerExitReport(report));
  } catch (err) {
    log.warn({ err, file }, "could not write the build's result for the provisioner");
  }
}

export interface RunFlags {
  /** Directory holding .wharf-ci.yml, already resolved against the caller's cwd. */
  dir: string;
  backend: string;
  stage?: string;
  env?: string;
  input: Record<string, string>;
  serve?: boolean;
  port: number;
  /** With `serve`: stop serving and return when the build ends, instead of at SIGINT/SIGTERM. */
  exitAfterBuild?: boolean;
}

/**
 * `wharf run`: the pipeline here, logs to the terminal; returns the exit code (0/1/2/130).
 * With `serve`, the build's results are served over gRPC while it runs and, after it ended,
 * until SIGINT/SIGTERM (so a client that connects late still gets every line and the final
 * status); `exitAfterBuild` returns as soon as the build ended. The exit code is the build's.
 */
export async function runPipelineHere(flags: RunFlags): Promise<number> {
  // Results of a local run are shown, not kept, unless WHARF_DATA_DIR asks for it.
  const keptDataDir = process.env[WORKER_ENV.dataDir] || undefined;
  const scratchDir = await fs.mkdtemp(path.join(os.tmpdir(), "wharf-run-"));
  try {
    return await runWithScratch(flags, keptDataDir, scratchDir);
  } finally {
    await fs.rm(scratchDir, { recursive: true, force: true });
  }
}

/**
 * A build id for a local run: the time in ms, a whole number like wharf-api's ids but far above
 * them, so a kept result directory (WHARF_DATA_DIR) of a local run never takes a real build's name.
 */
function localBuildId(): BuildId {
  return Date.now();
}

async function runWithScratch(
  flags: RunFlags,
  keptDataDir: string | undefined,
  scratchDir: string,
): Promise<number> {
  const log = createLogger("run", undefined, { pretty: true, defaultLevel: "warn" });
  const sourceDir = flags.dir;
  if (flags.backend !== "local" && flags.backend !== "docker" && flags.backend !== "cri") {
    process.stderr.write(`error: --backend must be local, docker or cri\n`);
    return 2;
  }
  let opts: ReturnType<typeof compileWorkerOptions>;
  try {
    opts = compileWorkerOptions(process.env, {
      // wharf-api's BUILD_REF in the shell (a CI job running `wharf run`) is not this build's:
      // only WHARF_BUILD_REF names one, else the run makes up its own, as wharf-cmd's does.
      ...(process.env[WORKER_ENV.buildId] ? {} : { buildId: localBuildId() }),
      source: { kind: "dir", dir: sourceDir },
      executor: flags.backend,
      port: flags.serve ? flags.port : 0,
      httpPort: -1,
      host: "127.0.0.1",
      dataDir: keptDataDir ?? scratchDir,
      inputs: flags.input,
      ...(flags.stage ? { stage: flags.stage } : {}),
      ...(flags.env ? { environment: flags.env } : {}),
    });
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`error: ${err.message}\n`);
      return 2;
    }
    throw err;
  }
  // Invalid files and unknown stages are usage errors (2), not failed builds (1).
  const { planBuild } = await import("./plan-build.js");
  const planned = await planBuild(sourceDir, opts).catch((err: Error) => ({ errors: [err.message] }));
  if (planned.errors.length > 0) {
    for (const e of planned.errors) process.stderr.write(`${e}\n`);
    return 2;
  }
  const running = await startWorker(opts, log, flags.serve === true);
  let interrupted = false;
  const onSigint = () => {
    if (interrupted) process.exit(130);
    interrupted = true;
    process.stderr.write("\ncancelling: stopping steps…\n");
    running.cancel("cancelled by Ctrl-C");
  };
  process.on("SIGINT", onSigint);
  process.on("SIGTERM", onSigint);
  if (flags.serve)
    process.stderr.write(`serving build results over gRPC on ${opts.host}:${running.grpcPort}\n`);
  const colour = process.stdout.isTTY === true;
  await Promise.all([printLogs(running.store, process.stdout, colour), running.finished]);
  process.stdout.write(`\n${formatSummary(running.store.summary(), colour)}`);
  process.off("SIGINT", onSigint);
  process.off("SIGTERM", onSigint);
  if (flags.serve && !flags.exitAfterBuild && !interrupted)
    await servedUntilSignal(opts.host, running.grpcPort);
  await running.close();
  if (interrupted) return 130;
  return running.store.summary().status === "SUCCESS" ? 0 : 1;
}

/** Waits for SIGINT or SIGTERM while the finished build stays served. */
function servedUntilSignal(host: string, port: number): Promise<void> {
  process.stderr.write(
    `build finished; still serving its results on ${host}:${port} until Ctrl-C or SIGTERM (--exit-after-build to exit now)\n`,
  );
  return new Promise((resolve) => {
    const done = () => {
      process.off("SIGINT", done);
      process.off("SIGTERM", done);
      resolve();
    };
    process.on("SIGINT", done);
    process.on("SIGTERM", done);
  });
}
