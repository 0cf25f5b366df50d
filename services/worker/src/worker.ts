import fs from "node:fs/promises";
import path from "node:path";
import type { Logger } from "@wharf/config";
import type { BuildResult } from "@wharf/engine";
import type { BuildSpec, Executor } from "@wharf/executor";
import { formatBuildId } from "@wharf/proto/build-id";
import { WHARF_LABELS } from "@wharf/proto/labels";
import { ResultStore } from "@wharf/result-store";
import {
  endSpan,
  startSpan,
  TRACEPARENT_METADATA,
  TRACING_OFF,
  type Tracer,
  traceparentOf,
} from "@wharf/tracing";
import { startWorkerRpcServer } from "@wharf/worker-rpc";
import { createExecutor } from "./executor-factory.js";
import type { WorkerOptions } from "./options.js";
import type { planBuild } from "./plan-build.js";

export interface RunningWorker {
  readonly store: ResultStore;
  /** gRPC port actually bound (0 when serving is off). */
  readonly grpcPort: number;
  /** Resolves when the build finished (also after a planning/checkout failure). */
  readonly finished: Promise<BuildResult | null>;
  /** Resolves when an aggregator called Release (everything was delivered). */
  readonly released: Promise<void>;
  cancel(reason: string): void;
  /**
   * Cancels the build, and once it ended lets an aggregator collect the last lines and the
   * final status (it calls Release when it has them) until `releaseGraceMs` after this call,
   * then closes. What a stopped worker (SIGTERM on delete) does, so a cancel loses no lines.
   */
  stop(reason: string, releaseGraceMs: number): Promise<void>;
  close(): Promise<void>;
}

/**
 * Runs one build: checkout → plan → run on the executor, recording everything in the
 * result store, which is served over gRPC from the first moment so a late aggregator
 * still gets every line. The process stays up after the build until released.
 */
export async function startWorker(
  opts: WorkerOptions,
  log: Logger,
  serve: boolean = true,
  tracer: Tracer = TRACING_OFF.tracer,
): Promise<RunningWorker> {
  // The build's span, a child of the provisioner's; handed on in every gRPC answer's metadata.
  // The build id as text: for names, the label, the span and the result store.
  const buildRef = formatBuildId(opts.buildId);
  const buildSpan = startSpan(tracer, "wharf.worker.build", opts.traceparent, {
    "wharf.build_ref": buildRef,
    "wharf.worker_id": opts.workerId,
  });
  const traceparent = traceparentOf(buildSpan);
  const buildDir = path.join(opts.dataDir, "builds", buildRef);
  await fs.mkdir(buildDir, { recursive: true });
  const abort = new AbortController();

  // Serve before cloning and planning: a slow checkout must not look like a dead worker to
  // the aggregator. Password inputs are added to the masking once planned, before any output.
  const store = await ResultStore.open(path.join(buildDir, "results"), {
    buildRef,
    secrets: [...envSecrets(), ...tokensOf(opts)],
  });

  let releaseResolve!: () => void;
  const released = new Promise<void>((r) => {
    releaseResolve = r;
  });
  /** The build's outcome is known: a cancel now changes nothing and is not announced. */
  let decided = false;
  // The developer reading the build log learns why it stopped, whoever stopped it.
  abort.signal.addEventListener(
    "abort",
    () => {
      if (decided) return;
      try {
        store.appendLog(0, `cancelling the build: ${(abort.signal.reason as Error).message}`);
      } catch {
        // The build had already finished (the store takes no more lines): nothing to cancel.
      }
    },
    { once: true },
  );
  // The checkout starts beside the gRPC server's start, not after it: serving first still holds
  // (the server does not wait for the clone), and a build's way to its first line no longer
  // waits for the two one after the other. Its error is the build's, reported below.
  const checkoutSpan = startSpan(tracer, "wharf.worker.checkout", buildSpan);
  const checkedOut = import("./checkout.js")
    .then(({ checkoutSource }) => checkoutSource(opts.source, buildDir))
    .then(
      (dir) => {
        endSpan(checkoutSpan);
        return dir;
      },
      (err: unknown) => {
        endSpan(checkoutSpan, "checkout failed");
        throw err;
      },
    );
  checkedOut.catch(() => {});
  const buildBase: Omit<BuildSpec, "sourceDir"> = {
    buildRef,
    // The worker's own clone: the local and CRI executors move it into place rather than copy it.
    sourceDisposable: opts.source.kind === "git",
    labels: { [WHARF_LABELS.buildId]: buildRef, [WHARF_LABELS.workerId]: opts.workerId },
    env: {},
    ...(opts.cacheScope ? { cache: opts.cacheScope } : {}),
  };
  // The executor starts what needs no source (the Docker executor's network and empty
  // workspace volume) while the gRPC server starts and the checkout and the plan run: ~0.1 s
  // off a Docker build's way to its first line. Its failure is told by setupBuild; a creation
  // failure by the await below.
  const executorReady = createExecutor(opts, log);
  executorReady.then((e) => e.prepareBuild?.(buildBase)).catch(() => {});
  /** What the executor made ahead for a build that will not run (setupBuild never came). */
  const discardPrepared = (e: Executor, sourceDir: string) =>
    e.prepareBuild
      ? e
          .destroyBuild({ ...buildBase, sourceDir: sourceDir || buildDir })
          .catch((err: unknown) => log.warn({ err }, "could not remove what was prepared for the build"))
      : undefined;
  const rpc = serve
    ? await startWorkerRpcServer({
        store,
        host: opts.host,
        port: opts.port,
        ...(opts.token ? { token: opts.token } : {}),
        onCancel: (reason: string) => abort.abort(new Error(reason || "cancelled over gRPC")),
        onRelease: () => releaseResolve(),
        ...(traceparent ? { responseMetadata: { [TRACEPARENT_METADATA]: traceparent } } : {}),
      }).catch(async (err: unknown) => {
        // No build will run: what the executor made ahead goes.
        await executorReady.then(
          (e) => discardPrepared(e, buildDir),
          () => undefined,
        );
        throw err;
      })
    : null;

  const finished = (async (): Promise<BuildResult | null> => {
    // Loaded once gRPC serves: plan and engine are not on the path to a ready worker.
    const [{ planBuild }, { runBuild }] = await Promise.all([
      import("./plan-build.js"),
      import("@wharf/engine"),
    ]);
    let planned: Awaited<ReturnType<typeof planBuild>> | null = null;
    let setupError: string | null = null;
    let sourceDir = "";
    try {
      sourceDir = await checkedOut;
      planned = await planBuild(sourceDir, opts);
      store.addSecrets(planned.plan.secrets);
      if (planned.errors.length > 0) setupError = planned.errors.join("\n");
    } catch (err) {
      setupError = (err as Error).message;
    }
    if (setupError !== null || !planned) {
      await executorReady.then(
        (e) => discardPrepared(e, sourceDir),
        () => undefined,
      );
      for (const line of `build could not start: ${setupError}`.split("\n")) store.appendLog(0, line);
      store.appendStatus(0, "FAILED");
      decided = true;
      await store.finish("FAILED", setupError ?? "build could not start");
      return null;
    }
    for (const w of planned.warnings) store.appendLog(0, `warning: ${w}`);
    const executor = await executorReady;
    const build: BuildSpec = { ...buildBase, sourceDir };
    try {
      const result = await runBuild(planned.plan, {
        executor,
        recorder: store,
        build,
        signal: abort.signal,
        stopGraceMs: opts.stopGraceMs,
        artifactsTmpDir: path.join(buildDir, "artifacts-tmp"),
        log,
        ...(opts.buildTimeoutMs ? { buildTimeoutMs: opts.buildTimeoutMs } : {}),
      });
      decided = true;
      await store.finish(result.status, result.message);
      return result;
    } catch (err) {
      log.error({ err }, "build crashed");
      // A plan runBuild refused before its set-up: what prepareBuild made is still there.
      await discardPrepared(executor, sourceDir);
      store.appendLog(0, `worker error: ${(err as Error).message}`);
      store.appendStatus(0, "FAILED");
      decided = true;
      await store.finish("FAILED", (err as Error).message);
      return null;
    }
  })();

  void finished.then((result) => {
    buildSpan.setAttribute("wharf.status", result?.status ?? "FAILED");
    endSpan(
      buildSpan,
      result?.status === "SUCCESS" ? undefined : `the build ended ${result?.status ?? "FAILED"}`,
    );
  });

  const close = async (): Promise<void> => {
    abort.abort(new Error("worker shutting down"));
    await finished.catch(() => null);
    await rpc?.close();
    await store.close();
  };
  return {
    store,
    grpcPort: rpc?.port ?? 0,
    finished,
    released,
    cancel: (reason) => abort.abort(new Error(reason)),
    async stop(reason, releaseGraceMs) {
      // Counted from the signal: the backend's SIGKILL comes at a fixed time after it,
      // however long the steps take to stop.
      let timer: NodeJS.Timeout | undefined;
      const deadline = new Promise<void>((r) => {
        timer = setTimeout(r, releaseGraceMs);
      });
      abort.abort(new Error(reason));
      await finished.catch(() => null);
      if (rpc) await Promise.race([released, deadline]);
      clearTimeout(timer);
      await close();
    },
    close,
  };
}

/** WHARF_SECRET_* values are masked wherever they appear in output. */
/** The worker's own credentials: no step prints them, but a git or engine error might quote one. */
function tokensOf(opts: WorkerOptions): string[] {
  return [
    opts.source.kind === "git" ? opts.source.token : undefined,
    opts.token,
    opts.registry?.password,
  ].filter((t): t is string => !!t);
}

function envSecrets(): string[] {
  return Object.entries(process.env)
    .filter(([k, v]) => k.startsWith("WHARF_SECRET_") && v)
    .map(([, v]) => v as string);
}
