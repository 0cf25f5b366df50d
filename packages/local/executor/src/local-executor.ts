import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { createLogger, type Logger } from "@wharf/config";
import type { PlanStep } from "@wharf/executor";
import {
  type BuildSpec,
  DEFAULT_CACHE_MAX_BYTES,
  type Executor,
  ExecutorError,
  type IgnoredField,
  ignoredFieldWarnings,
  type StepProcess,
  StepStartError,
  stepScript,
  withWarnings,
} from "@wharf/executor";
import { LocalCaches } from "./local-caches.js";
import { LocalStepProcess } from "./local-step-process.js";
import { collectWorkspaceFiles, copyWorkspace, workspaceDir } from "./local-workspace.js";

/** Host variables a step inherits; everything else of the worker's environment (tokens!) stays out. */
export const DEFAULT_INHERITED_ENV = ["PATH", "HOME", "USER", "LOGNAME", "LANG", "LC_ALL", "TZ", "TMPDIR"];

/** What a container step may ask for that host processes cannot give; each a warning in its log. */
export const LOCAL_IGNORED_FIELDS: readonly IgnoredField[] = [
  {
    type: "container",
    field: "image",
    yamlName: "image",
    why: "the cmds run on the worker's host, with its tools (use the docker or kubernetes backend to run them in the image)",
  },
  {
    type: "container",
    field: "secretName",
    yamlName: "secretName",
    why: "there are no Kubernetes Secrets on the worker's host, so its values are not in the step's env",
  },
  {
    type: "container",
    field: "serviceAccount",
    yamlName: "serviceAccount",
    why: "a host process has no Kubernetes service account",
  },
  {
    type: "container",
    field: "certificatesMountPath",
    yamlName: "certificatesMountPath",
    why: "the step uses the host's certificates; nothing is mounted",
  },
];

export interface LocalExecutorOptions {
  /** Parent of the per-build workspaces; default `os.tmpdir()/wharf-workspaces`. */
  workspaceRoot?: string;
  /** Names of the worker's environment variables passed on to steps; default `DEFAULT_INHERITED_ENV`. */
  inheritEnv?: string[];
  /** Grace before SIGKILL for steps still running when `destroyBuild` is called; default 2000 ms. */
  destroyGraceMs?: number;
  /** Where step caches (`cache:`) are kept between builds; default `os.tmpdir()/wharf-caches`. */
  cacheDir?: string;
  /** Budget of all caches in `cacheDir`; least recently used ones go beyond it. Default 10 GiB. */
  cacheMaxBytes?: number;
  logger?: Logger;
}

/**
 * Runs `container` steps as host processes: `[shell, "-c", stepScript(cmds)]` in a copy of
 * the source directory shared by all steps of the build. The step image and the Kubernetes
 * fields are ignored, with a warning in the step's log (LOCAL_IGNORED_FIELDS); other step types
 * need a container engine and are refused.
 */
export class LocalExecutor implements Executor {
  readonly kind = "local";
  readonly workspaceRoot: string;
  readonly caches: LocalCaches;
  private readonly inheritEnv: string[];
  private readonly destroyGraceMs: number;
  private readonly log: Logger;
  /** Live steps per build ref, so `destroyBuild` can kill what the caller did not. */
  private readonly running = new Map<string, Set<LocalStepProcess>>();

  constructor(options: LocalExecutorOptions = {}) {
    this.workspaceRoot = options.workspaceRoot ?? path.join(os.tmpdir(), "wharf-workspaces");
    this.inheritEnv = options.inheritEnv ?? DEFAULT_INHERITED_ENV;
    this.destroyGraceMs = options.destroyGraceMs ?? 2_000;
    this.log = options.logger ?? createLogger("executor-local");
    this.caches = new LocalCaches(
      options.cacheDir ?? path.join(os.tmpdir(), "wharf-caches"),
      options.cacheMaxBytes ?? DEFAULT_CACHE_MAX_BYTES,
      (build) => this.workspaceOf(build),
    );
  }

  /** The host directory where the steps of `build` run. */
  workspaceOf(build: BuildSpec): string {
    return workspaceDir(this.workspaceRoot, build.buildRef);
  }

  async ping(): Promise<void> {
    await fs.mkdir(this.workspaceRoot, { recursive: true });
    await fs.access(this.workspaceRoot, fs.constants.W_OK);
  }

  async setupBuild(build: BuildSpec): Promise<void> {
    await copyWorkspace(build.sourceDir, this.workspaceOf(build), { move: build.sourceDisposable === true });
  }

  async startStep(build: BuildSpec, step: PlanStep, env: Record<string, string>): Promise<StepProcess> {
    if (step.type !== "container") {
      throw new StepStartError(
        `step type ${step.type} is not supported by the local executor; use --backend docker`,
        step.id,
        { permanent: true },
      );
    }
    const cwd = this.workspaceOf(build);
    if (!(await fs.stat(cwd).catch(() => null))?.isDirectory())
      throw new ExecutorError(
        `workspace ${cwd} does not exist: setupBuild was not called for ${build.buildRef}`,
      );
    let proc: LocalStepProcess;
    try {
      proc = await LocalStepProcess.start({
        shell: step.spec.shell,
        script: stepScript(step.spec.cmds),
        cwd,
        env: { ...this.hostEnv(), ...build.env, ...env },
      });
    } catch (err) {
      throw new StepStartError(
        `cannot start shell ${step.spec.shell} on this host: ${(err as Error).message}`,
        step.id,
        {
          cause: err,
        },
      );
    }
    this.track(build.buildRef, proc);
    const warnings = ignoredFieldWarnings(step, this.kind, LOCAL_IGNORED_FIELDS);
    if (warnings.length)
      this.log.debug({ buildRef: build.buildRef, step: step.name, warnings }, "fields ignored");
    return withWarnings(proc, warnings);
  }

  collectFiles(build: BuildSpec, globs: string[], destDir: string): Promise<string[]> {
    return collectWorkspaceFiles(this.workspaceOf(build), globs, destDir);
  }

  async destroyBuild(build: BuildSpec): Promise<void> {
    const procs = [...(this.running.get(build.buildRef) ?? [])];
    this.running.delete(build.buildRef);
    await Promise.all(
      procs.map(async (p) => {
        await p.stop(this.destroyGraceMs);
        await p.destroy();
      }),
    );
    await fs.rm(this.workspaceOf(build), { recursive: true, force: true });
  }

  private track(buildRef: string, proc: LocalStepProcess): void {
    let set = this.running.get(buildRef);
    if (!set) {
      set = new Set();
      this.running.set(buildRef, set);
    }
    set.add(proc);
    void proc.wait().then(() => {
      set.delete(proc);
      if (set.size === 0 && this.running.get(buildRef) === set) this.running.delete(buildRef);
    });
  }

  private hostEnv(): Record<string, string> {
    const env: Record<string, string> = {};
    for (const name of this.inheritEnv) {
      const value = process.env[name];
      if (value !== undefined) env[name] = value;
    }
    return env;
  }
}
