import type { Readable } from "node:stream";
import type { PlanStep } from "@wharf/wharfyml";

/** What an executor needs to know about the build as a whole. */
export interface BuildSpec {
  /** wharf-api's build id (BUILD_REF) or a local id; used in names and labels. */
  buildRef: string;
  /** Directory on the worker's host holding the checked-out repository. */
  sourceDir: string;
  /** Labels every resource of this build carries, so leftovers can be found. */
  labels: Record<string, string>;
  /** Environment given to every step (CI=true, WHARF_BUILD_REF, ...). */
  env: Record<string, string>;
}

/** A running step. Returned by `startStep`; owned by the caller until `destroy`. */
export interface StepProcess {
  /**
   * Raw output; both streams end when the step's process ends (or is stopped). They apply
   * backpressure: read both, or a chatty step blocks once the unread buffer is full.
   */
  readonly stdout: Readable;
  readonly stderr: Readable;
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
 *   the step itself (missing image, unsupported step type, bad spec): the engine marks
 *   the step FAILED with the message. Any other rejection is an executor fault.
 * - `destroyBuild` must succeed even if `setupBuild` or any `startStep` failed, and
 *   may be called while steps are still running (cancel): it then stops them first.
 * - Executors see only the plan (`PlanStep`), never YAML, and keep no state between builds.
 */
export interface Executor {
  /** "local", "docker", "kubernetes", ... for logs and metrics. */
  readonly kind: string;
  /** Resolves when the backend is reachable (socket answers, API server up); rejects with the reason. */
  ping(): Promise<void>;
  /** Prepares the shared workspace (copy, volume, PVC) from `build.sourceDir`. */
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
}
