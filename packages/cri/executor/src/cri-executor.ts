import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { status } from "@grpc/grpc-js";
import { createLogger, type Logger } from "@wharf/config";
import type { PlanStep } from "@wharf/executor";
import {
  type BuildSpec,
  type Executor,
  ExecutorError,
  LABEL_BUILD_REF,
  type StepProcess,
  StepStartError,
} from "@wharf/executor";
import { collectWorkspaceFiles, copyWorkspace } from "@wharf/executor-local/workspace";
import { CriClient, grpcCode, type PodSandboxConfig, type PullAuth } from "./cri-client.js";
import { buildDirs, sandboxConfig, stepContainerConfig } from "./cri-spec.js";
import { CriStep } from "./cri-step.js";
import { ensureImage, ImageUnavailableError, type PullPolicy } from "./image-pull.js";
import {
  findDeadOwners,
  findLeftovers,
  type Leftovers,
  removeContainer,
  removeLeftovers,
} from "./leftovers.js";
import { LABEL_OWNER, ownerValue } from "./owner.js";
import { CRI_WORK_ROOT_NAME, type CriNetwork, DEFAULT_CRI_ENDPOINT } from "./settings.js";

export interface CriExecutorOptions {
  /** The runtime's CRI socket (`unix:///...`); default DEFAULT_CRI_ENDPOINT (containerd's). */
  endpoint?: string;
  /** The build sandbox's network; default "pod" (see CriNetwork). */
  network?: CriNetwork;
  /**
   * Host directory holding each build's workspace and container logs. The runtime bind-mounts
   * and writes there, so it must be a path of the runtime's host; default `os.tmpdir()/wharf-cri-builds`.
   */
  workRoot?: string;
  /** Where the workspace is mounted in step containers, and their working directory; default "/workspace". */
  workspacePath?: string;
  /** When to pull step images; default "if-not-present". */
  pullPolicy?: PullPolicy;
  /** Upper bound of one image pull; default 300 000 ms. */
  pullTimeoutMs?: number;
  /** Registry credentials for pulling a step's image (undefined: none), never logged nor in an error. */
  pullAuth?: (image: string) => PullAuth | undefined;
  logger?: Logger;
}

/** What one dead executor process (its LABEL_OWNER value) left in the runtime. */
export interface OrphanReport {
  owner: string;
  sandboxes: string[];
  containers: string[];
  buildRefs: string[];
}

/** Per build: its sandbox, the steps still starting or running, for `destroyBuild`. */
interface BuildState {
  sandboxId: string;
  sandbox: PodSandboxConfig;
  destroyed: boolean;
  steps: Set<CriStep>;
  starting: Set<Promise<unknown>>;
}

/**
 * Runs steps through a Container Runtime Interface (containerd's CRI plugin, CRI-O): one pod
 * sandbox per build, one container per `container` step from its image in that sandbox, the
 * workspace a host directory bind-mounted into each. Sandboxes and containers carry the build's
 * labels and their owner's (owner.ts): `destroyBuild` removes a build's, and the first setup
 * of a new executor removes what an executor process that died left.
 */
export class CriExecutor implements Executor {
  readonly kind = "cri";
  readonly cri: CriClient;
  readonly workRoot: string;
  private readonly network: CriNetwork;
  private readonly workspacePath: string;
  private readonly pullPolicy: PullPolicy;
  private readonly pullTimeoutMs: number;
  private readonly pullAuth: CriExecutorOptions["pullAuth"];
  private readonly log: Logger;
  private readonly builds = new Map<string, BuildState>();
  private owner: Promise<Record<string, string>> | undefined;
  private orphanSweep: Promise<void> | undefined;

  constructor(options: CriExecutorOptions = {}) {
    this.cri = new CriClient(options.endpoint ?? DEFAULT_CRI_ENDPOINT);
    this.network = options.network ?? "pod";
    this.workRoot = options.workRoot ?? path.join(os.tmpdir(), CRI_WORK_ROOT_NAME);
    this.workspacePath = options.workspacePath ?? "/workspace";
    this.pullPolicy = options.pullPolicy ?? "if-not-present";
    this.pullTimeoutMs = options.pullTimeoutMs ?? 300_000;
    this.pullAuth = options.pullAuth;
    this.log = options.logger ?? createLogger("executor-cri");
    if (this.network === "host")
      this.log.warn(
        { network: "host" },
        "build sandboxes run on the host network: steps can reach every port of this machine, this worker's included",
      );
  }

  async ping(): Promise<void> {
    try {
      await this.cri.version();
    } catch (err) {
      throw new ExecutorError(`CRI runtime at ${this.cri.endpoint} does not answer: ${messageOf(err)}`, {
        cause: err,
      });
    }
  }

  async setupBuild(build: BuildSpec): Promise<void> {
    this.orphanSweep ??= this.removeOrphans().then(
      () => undefined,
      (err: unknown) => this.log.warn({ err: messageOf(err) }, "could not remove what dead workers left"),
    );
    await this.orphanSweep;
    // A retried setup (same build ref) starts from nothing rather than meeting the old sandbox.
    await this.destroyBuild(build);
    const dirs = buildDirs(this.workRoot, build.buildRef);
    await copyWorkspace(build.sourceDir, dirs.workspace, { move: build.sourceDisposable === true });
    await fs.mkdir(dirs.logs, { recursive: true });
    const sandbox = sandboxConfig(build, {
      network: this.network,
      logDirectory: dirs.logs,
      ownerLabels: await this.ownerLabels(),
    });
    try {
      const sandboxId = await this.cri.runPodSandbox(sandbox);
      this.builds.set(build.buildRef, {
        sandboxId,
        sandbox,
        destroyed: false,
        steps: new Set(),
        starting: new Set(),
      });
    } catch (err) {
      await this.destroyBuild(build);
      throw new ExecutorError(`the CRI runtime cannot run the build's sandbox: ${messageOf(err)}`, {
        cause: err,
      });
    }
  }

  async startStep(build: BuildSpec, step: PlanStep, env: Record<string, string>): Promise<StepProcess> {
    if (step.type !== "container")
      throw new StepStartError(`step type ${step.type} is not supported by the cri executor`, step.id, {
        permanent: true,
      });
    const state = this.builds.get(build.buildRef);
    if (!state) throw new ExecutorError(`build ${build.buildRef} has no sandbox: setupBuild was not called`);
    // Tracked until the step is either handed out or removed again, so `destroyBuild` awaits both.
    const starting = this.start(build, state, step, env).then(async (proc) => {
      if (state.destroyed) {
        await proc.destroy();
        throw new StepStartError(
          `build ${build.buildRef} was destroyed while step ${step.name} started`,
          step.id,
        );
      }
      state.steps.add(proc);
      void proc.wait().then(
        () => state.steps.delete(proc),
        () => state.steps.delete(proc),
      );
      return proc;
    });
    state.starting.add(starting);
    try {
      return await starting;
    } finally {
      state.starting.delete(starting);
    }
  }

  collectFiles(build: BuildSpec, globs: string[], destDir: string): Promise<string[]> {
    return collectWorkspaceFiles(buildDirs(this.workRoot, build.buildRef).workspace, globs, destDir);
  }

  async destroyBuild(build: BuildSpec): Promise<void> {
    const state = this.builds.get(build.buildRef);
    this.builds.delete(build.buildRef);
    if (state) {
      state.destroyed = true;
      await Promise.allSettled([...state.starting]);
      await Promise.allSettled([...state.steps].map((s) => s.destroy()));
    }
    await removeLeftovers(this.cri, { [LABEL_BUILD_REF]: build.buildRef });
    await fs.rm(buildDirs(this.workRoot, build.buildRef).dir, { recursive: true, force: true });
  }

  /** Sandboxes and containers matching all `labels` (e.g. a build ref). */
  findLeftovers(labels: Record<string, string>): Promise<Leftovers> {
    return findLeftovers(this.cri, labels);
  }

  /** Removes what `findLeftovers` finds; returns it. */
  removeLeftovers(labels: Record<string, string>): Promise<Leftovers> {
    return removeLeftovers(this.cri, labels);
  }

  /**
   * Removes the sandboxes, containers and build directories left by executor processes of this
   * host that died (a killed worker); returns their build refs. Run by the first `setupBuild`.
   */
  async removeOrphans(): Promise<string[]> {
    return (await this.sweepOrphans({ dryRun: false })).flatMap((o) => o.buildRefs);
  }

  /**
   * What executor processes of this host and PID namespace that are gone left, per owner
   * (`wharf janitor --cri`); removed unless `dryRun`, build directories too.
   */
  async sweepOrphans(opts: { dryRun: boolean }): Promise<OrphanReport[]> {
    const report: OrphanReport[] = [];
    for (const [owner, refs] of await findDeadOwners(this.cri)) {
      const labels = { [LABEL_OWNER]: owner };
      const found = opts.dryRun
        ? await findLeftovers(this.cri, labels)
        : await removeLeftovers(this.cri, labels);
      const buildRefs = [...refs];
      if (!opts.dryRun) {
        for (const ref of buildRefs)
          if ((await findLeftovers(this.cri, { [LABEL_BUILD_REF]: ref })).sandboxes.length === 0)
            await fs.rm(buildDirs(this.workRoot, ref).dir, { recursive: true, force: true });
        this.log.info({ owner, buildRefs }, "removed what a dead worker left");
      }
      report.push({ owner, sandboxes: found.sandboxes, containers: found.containers, buildRefs });
    }
    return report;
  }

  close(): void {
    this.cri.close();
  }

  private async start(
    build: BuildSpec,
    state: BuildState,
    step: PlanStep & { type: "container" },
    env: Record<string, string>,
  ): Promise<CriStep> {
    try {
      await ensureImage(
        this.cri,
        step.spec.image,
        this.pullPolicy,
        this.pullTimeoutMs,
        this.pullAuth?.(step.spec.image),
      );
    } catch (err) {
      if (err instanceof ImageUnavailableError)
        throw new StepStartError(err.message, step.id, { cause: err });
      throw new ExecutorError(`cannot look up image ${step.spec.image}: ${messageOf(err)}`, { cause: err });
    }
    const dirs = buildDirs(this.workRoot, build.buildRef);
    const config = stepContainerConfig(build, step, env, {
      network: this.network,
      workspaceHostPath: dirs.workspace,
      workspacePath: this.workspacePath,
      ownerLabels: await this.ownerLabels(),
    });
    let containerId: string | undefined;
    try {
      containerId = await this.cri.createContainer(state.sandboxId, config, state.sandbox);
      await this.cri.startContainer(containerId);
    } catch (err) {
      if (containerId) await removeContainer(this.cri, containerId).catch(() => undefined);
      // The runtime answered (bad shell, mount...): the step's fault. No answer: the runtime's.
      if (grpcCode(err) !== undefined && grpcCode(err) !== status.UNAVAILABLE)
        throw new StepStartError(`cannot start step container: ${messageOf(err)}`, step.id, { cause: err });
      throw new ExecutorError(`CRI runtime failed: ${messageOf(err)}`, { cause: err });
    }
    return new CriStep(this.cri, containerId, path.join(dirs.logs, config.logPath));
  }

  private ownerLabels(): Promise<Record<string, string>> {
    this.owner ??= ownerValue().then((v) => ({ [LABEL_OWNER]: v }));
    return this.owner;
  }
}

function messageOf(err: unknown): string {
  const details = (err as { details?: unknown } | null)?.details;
  if (typeof details === "string" && details) return details;
  return err instanceof Error ? err.message : String(err);
}
