import { setTimeout as delay } from "node:timers/promises";
import { type StepProcess, StepStartError } from "@wharf/executor";
import { forEachLine } from "./line-splitter.js";
import { errorMessage, type StepRunContext } from "./step-context.js";
import { type StopReason, stopReasonOf } from "./stop-reason.js";

/** How one attempt of a step ended. */
export type AttemptResult =
  | { kind: "exited"; exitCode: number }
  | { kind: "timed-out"; timeoutMs: number; exitCode: number | null }
  | { kind: "stopped"; reason: StopReason; exitCode: number | null }
  /** `permanent`: the executor says no attempt can start it (StepStartError.permanent). */
  | { kind: "start-failed"; message: string; permanent: boolean }
  /** The executor (or recording the output) failed, not the step; `message` says which. */
  | { kind: "fault"; message: string };

/**
 * How long output may keep flowing after `stop()` resolved before the engine closes the
 * streams itself: the process is gone by then, this only bounds a lagging log stream.
 */
const DRAIN_AFTER_STOP_MS = 1000;
const ABORTED = Symbol("aborted");

type StopCause =
  | { kind: "timeout" }
  | { kind: "stop"; reason: StopReason }
  | { kind: "fault"; message: string };

/** Starts the step once, streams its output into the recorder, waits for it and destroys it. */
export async function runAttempt(ctx: StepRunContext): Promise<AttemptResult> {
  const { signal } = ctx;
  if (signal.aborted) return { kind: "stopped", reason: stopReasonOf(signal), exitCode: null };
  const starting = ctx.executor.startStep(ctx.build, ctx.tracker.step, ctx.env);
  let proc: StepProcess;
  try {
    const first = await raceAbort(starting, signal);
    if (first === ABORTED) {
      // Don't keep a cancel waiting for a slow start (an image pull): the step ends now
      // and the process, once it exists, is stopped and destroyed in the background.
      trackBackground(ctx, disposeLateStart(starting, ctx));
      return { kind: "stopped", reason: stopReasonOf(signal), exitCode: null };
    }
    proc = first;
  } catch (err) {
    if (err instanceof StepStartError)
      return { kind: "start-failed", message: err.message, permanent: err.permanent };
    return { kind: "fault", message: `executor failed: starting the step: ${errorMessage(err)}` };
  }
  try {
    // Secrets the executor resolved for this step are masked before its first line is recorded.
    if (proc.secrets?.length) ctx.recorder.addSecrets(proc.secrets);
    ctx.tracker.advance("RUNNING");
    for (const warning of proc.warnings ?? []) ctx.tracker.log(`warning: ${warning}`);
    return await supervise(proc, ctx);
  } catch (err) {
    return { kind: "fault", message: `executor failed: ${errorMessage(err)}` };
  } finally {
    await dispose(proc, ctx);
  }
}

/** Waits for the process to end on its own, or stops it on timeout or abort. */
async function supervise(proc: StepProcess, ctx: StepRunContext): Promise<AttemptResult> {
  const { signal } = ctx;
  const timeoutMs = ctx.tracker.step.timeoutMs;
  // In an object: TypeScript does not see the callbacks below assign it.
  const state: { cause: StopCause | null; exited: boolean } = { cause: null, exited: false };
  const stopSettled = deferred<typeof ABORTED>();
  const requestStop = (why: StopCause): void => {
    if (state.exited || state.cause !== null) return;
    state.cause = why;
    proc
      .stop(ctx.stopGraceMs)
      .catch((err: unknown) => ctx.log.warn({ err, stepId: ctx.tracker.step.id }, "stopping the step failed"))
      .then(() => delay(DRAIN_AFTER_STOP_MS, undefined, { ref: false }))
      .then(() => stopSettled.resolve(ABORTED));
  };
  const onAbort = (): void => requestStop({ kind: "stop", reason: stopReasonOf(signal) });
  signal.addEventListener("abort", onAbort, { once: true });
  const timer =
    timeoutMs === undefined ? undefined : setTimeout(() => requestStop({ kind: "timeout" }), timeoutMs);
  // Output that cannot be read or recorded any more would block the step on
  // back-pressure forever: stop it.
  const output = readOutput(proc, ctx, (message) => requestStop({ kind: "fault", message }));
  try {
    if (signal.aborted) onAbort();
    const waited = await Promise.race([proc.wait(), stopSettled.promise]);
    state.exited = true;
    clearTimeout(timer);
    const exitCode = waited === ABORTED ? null : waited;
    const why = state.cause;
    let outputError = why === null ? await output : await Promise.race([output, stopSettled.promise]);
    if (outputError === ABORTED) {
      proc.stdout.destroy();
      proc.stderr.destroy();
      outputError = await output;
    }
    if (why?.kind === "timeout") return { kind: "timed-out", timeoutMs: timeoutMs ?? 0, exitCode };
    if (why?.kind === "stop") return { kind: "stopped", reason: why.reason, exitCode };
    if (why?.kind === "fault") return { kind: "fault", message: why.message };
    if (outputError !== null) return { kind: "fault", message: outputError };
    return { kind: "exited", exitCode: exitCode ?? -1 };
  } finally {
    clearTimeout(timer);
    signal.removeEventListener("abort", onAbort);
  }
}

/**
 * Pumps stdout and stderr into the step's log. A failure calls `onError` at once and
 * resolves with its message; otherwise resolves with null once both streams ended.
 */
async function readOutput(
  proc: StepProcess,
  ctx: StepRunContext,
  onError: (message: string) => void,
): Promise<string | null> {
  const pump = async (stream: StepProcess["stdout"]): Promise<string | null> => {
    let recordError: unknown = null;
    const append = (line: Buffer): void => {
      try {
        ctx.tracker.log(line);
      } catch (err) {
        recordError = err;
        throw err;
      }
    };
    // Live viewers' copy of an unfinished progress line: best effort, never a reason to fail the step.
    const showProgress = (partial: Buffer): void => {
      try {
        ctx.tracker.progress(partial);
      } catch {}
    };
    try {
      await forEachLine(stream, append, ctx.maxLineBytes, showProgress);
      return null;
    } catch (err) {
      const message =
        recordError !== null
          ? `recording the step's output failed: ${errorMessage(recordError)}`
          : `executor failed: reading the step's output: ${errorMessage(err)}`;
      onError(message);
      return message;
    }
  };
  const [out, err] = await Promise.all([pump(proc.stdout), pump(proc.stderr)]);
  return out ?? err;
}

/** Destroys the step's process; a failure is logged, it does not change the step's result. */
async function dispose(proc: StepProcess, ctx: StepRunContext): Promise<void> {
  try {
    await proc.destroy();
  } catch (err) {
    ctx.log.warn({ err, stepId: ctx.tracker.step.id }, "destroying the step failed");
    ctx.tracker.log(`warning: cleaning up the step failed: ${errorMessage(err)}`);
  } finally {
    proc.stdout.destroy();
    proc.stderr.destroy();
  }
}

async function disposeLateStart(starting: Promise<StepProcess>, ctx: StepRunContext): Promise<void> {
  let proc: StepProcess;
  try {
    proc = await starting;
  } catch {
    return; // it never started: nothing to clean up
  }
  // The step may have run before its start was confirmed (a pod's container starts between
  // two status polls, and a sibling it unblocked failed the stage meanwhile): what it
  // printed before the stop reached it is part of its log.
  if (proc.secrets?.length) ctx.recorder.addSecrets(proc.secrets);
  const output = readOutput(proc, ctx, (message) =>
    ctx.log.warn({ stepId: ctx.tracker.step.id, message }, "reading a late-started step's output failed"),
  );
  try {
    await proc.stop(ctx.stopGraceMs);
  } catch (err) {
    ctx.log.warn({ err, stepId: ctx.tracker.step.id }, "stopping a late-started step failed");
  }
  await Promise.race([output, delay(DRAIN_AFTER_STOP_MS, undefined, { ref: false })]);
  try {
    await proc.destroy();
  } catch (err) {
    ctx.log.warn({ err, stepId: ctx.tracker.step.id }, "destroying a late-started step failed");
  } finally {
    proc.stdout.destroy();
    proc.stderr.destroy();
  }
}

function trackBackground(ctx: StepRunContext, work: Promise<void>): void {
  ctx.background.add(work);
  void work.finally(() => ctx.background.delete(work));
}

function raceAbort<T>(promise: Promise<T>, signal: AbortSignal): Promise<T | typeof ABORTED> {
  return new Promise<T | typeof ABORTED>((resolve, reject) => {
    const onAbort = (): void => resolve(ABORTED);
    signal.addEventListener("abort", onAbort, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener("abort", onAbort));
  });
}

function deferred<T>(): { promise: Promise<T>; resolve: (value: T) => void } {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}
