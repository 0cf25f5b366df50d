import type { Readable } from "node:stream";
import type { PlanStep } from "./plan.js";
import type { CacheScope, StepCaches } from "./step-cache.js";

/** What an executor needs to know about the build as a whole. */
export interface BuildSpec {
  /**
   * The build as text for names and the build-ref label: the worker passes its BuildId through
   * formatBuildId (@wharf/proto/build-id); executors only compare and sanitise it, so tests may
   * use any text that keeps their builds apart.
   */
  buildRef: string;
  /** Directory on the worker's host holding the checked-out repository. */
  sourceDir: string;
  /**
   * The source directory is the worker's own checkout, which nothing but the executor's own
   * copy reads after `setupBuild` began: an executor may move it into the workspace instead of
   * copying it. Unset (`wharf run` on a
   * developer's directory): it must be left as it is.
   */
  sourceDisposable?: boolean;
  /** Labels every resource of this build carries, so leftovers can be found. */
  labels: Record<string, string>;
  /** Environment given to every step (CI=true, WHARF_BUILD_REF, ...). */
  env: Record<string, string>;
  /** The project and branch step caches are kept for; absent: caches are neither restored nor saved. */
  cache?: CacheScope;
}

/** A running step. Returned by `startStep`; owned by the caller until `destroy`. */
export interface StepProcess {
  /**
   * Raw output; both streams end when the step's process ends (or is stopped). They apply
   * backpressure: read both, or a chatty step blocks once the unread buffer is full.
   */
  readonly stdout: Readable;
  readonly stderr: Readable;
  /**
   * Secret values this step can read that the executor learnt while starting it (the
   * Kubernetes executor reads the Secrets a step pod references as env or volumes), already
   * filtered by `maskableSecretValues`. Set before `startStep` resolves and never changed.
   * The caller must mask them in everything it records from now on — this step's output and
   * any later line of the build — before it reads the first chunk of `stdout`/`stderr`; the
   * engine hands them to `BuildRecorder.addSecrets`. Absent or empty: nothing to add.
   */
  readonly secrets?: readonly string[];
  /**
   * Fields of the step this executor cannot honour (`ignoredFieldWarnings`), one sentence each;
   * the engine writes them into the step's log as warning lines before its output, so nothing
   * a pipeline asks for is dropped without the developer seeing it. Set before `startStep`
   * resolves.
   */
  readonly warnings?: readonly string[];
  /** Resolves with the exit code once the process ended; never rejects for a non-zero exit. */
  wait(): Promise<number>;
  /**
   * Stops the step: graceful signal first, a hard kill after `graceMs`. Safe to call more
   * than once and after the step already exited.
   */
  stop(graceMs: number): Promise<void>;
  /** Removes what the step created (container, pod, temp files). Must succeed after a failed or stopped step. */
  destroy(): Promise<void>;
}

/**
 * Runs the steps of one build on some backend (host processes, a Docker/Podman engine,
 * Kubernetes pods). Modelled on drone's engine and woodpecker's Backend.
 *
 * Call order for one build:
 *   setupBuild → (startStep → [read stdout/stderr, wait] → destroy)* → destroyBuild
 *
 * - Steps of one stage are started concurrently: `startStep` and everything on a
 *   `StepProcess` must be safe to use for several steps at once.
 * - `startStep` rejects with `StepStartError` when the step cannot start for a reason of
 *   the step itself (missing image, unsupported step type, bad spec, a Secret it uses that is
 *   missing or that the executor may not read): the engine marks the step FAILED with the
 *   message. A start failure that no retry can mend (unsupported type, invalid spec, missing
 *   Secret) is thrown with `permanent: true` (or with a cause marked `permanent: true`): the
 *   engine then does not spend the step's `retries` on it. Without the mark the failure counts
 *   as possibly transient (an image pull) and is retried. Any other rejection is an executor fault.
 * - Secret values: an executor that resolves credentials for a step (Kubernetes Secrets
 *   referenced by the pod) returns their values on `StepProcess.secrets`, so they are masked
 *   before any output of the step is recorded. An executor that cannot learn the values of a
 *   secret the step uses must fail the start rather than run the step unmasked.
 * - `destroyBuild` must succeed even if `setupBuild` or any `startStep` failed, and
 *   may be called while steps are still running (cancel): it then stops them first.
 * - Executors see only the plan (`PlanStep`), never YAML, and keep no state between builds.
 */
export interface Executor {
  /** "local", "docker", "kubernetes", ... for logs and metrics. */
  readonly kind: string;
  /** Resolves when the backend is reachable (socket answers, API server up); rejects with the reason. */
  ping(): Promise<void>;
  /**
   * Optional: starts what `setupBuild` makes that needs no source (the Docker executor's sweep
   * of a retried build's leftovers, the build's network and its empty workspace volume), so a
   * worker can have it made while it starts serving, clones and plans. `setupBuild` then waits for it and makes only the rest; without
   * this call it makes everything. A caller that prepared a build and does not set it up (the
   * checkout or the plan failed) calls `destroyBuild` for it.
   */
  prepareBuild?(build: Omit<BuildSpec, "sourceDir">): Promise<void>;
  /**
   * Prepares the shared workspace (copy, volume, PVC) from `build.sourceDir`. It may resolve
   * while the copy still runs (the Docker executor's does, so a step's container starts beside
   * it) only if the executor itself holds back every reader of the workspace until the copy is
   * done: a step's commands, `collectFiles`, its caches; a failed copy then fails those.
   */
  setupBuild(build: BuildSpec): Promise<void>;
  /**
   * Starts one step in the build's workspace. The step sees `build.env` with `env` on top
   * (`env` wins); the executor merges them. `container` steps run `[shell, "-c", stepScript(cmds)]`.
   */
  startStep(build: BuildSpec, step: PlanStep, env: Record<string, string>): Promise<StepProcess>;
  /** Copies the workspace files matching `globs` into `destDir`, keeping their relative paths; for artifacts. Returns the relative paths copied. */
  collectFiles(build: BuildSpec, globs: string[], destDir: string): Promise<string[]>;
  /** Removes the workspace and anything left of the build. */
  destroyBuild(build: BuildSpec): Promise<void>;
  /**
   * Step caches (`cache:`), when this executor keeps them (see `StepCaches` for the rules).
   * Absent: the executor keeps none, and the engine says so in the log of each step that
   * asks for a cache, which then runs without it. Called between `setupBuild` and
   * `destroyBuild`, never while the step it serves runs.
   */
  readonly caches?: StepCaches;
}
