import fs from "node:fs/promises";
import { createLogger, type Logger } from "@wharf/config";
import type { PlanStep } from "@wharf/executor";
import {
  type BuildSpec,
  DEFAULT_CACHE_MAX_BYTES,
  type Executor,
  ExecutorError,
  type IgnoredField,
  ignoredFieldWarnings,
  LABEL_BUILD_REF,
  type ProjectSecrets,
  type StepProcess,
  StepStartError,
  withWarnings,
} from "@wharf/executor";
import Docker from "dockerode";
import {
  BUILD_NETWORK,
  buildNetworkMode,
  isGateableShell,
  networkCreateOptions,
  stepContainerOptions,
  volumeName,
} from "./container-spec.js";
import { ContainerStep } from "./container-step.js";
import { HostSecretError, HostSecrets } from "./host-secrets.js";
import { APPEND_CERT_FIELDS, DOCKER_IGNORED_FIELDS, SECRETS_DIR_FIELDS } from "./ignored-fields.js";
import { type ImageBuildSecrets, imageBuildSecrets } from "./image-build-secrets.js";
import { ImageBuildSpecError, imageBuildSpec } from "./image-build-spec.js";
import { type PushRegistry, runImageBuild } from "./image-build-step.js";
import { ensureImage, ImageUnavailableError, type PullPolicy } from "./image-policy.js";
import { findLeftovers, type Leftovers, removeLeftovers } from "./leftovers.js";
import { engineSocketPath } from "./stdin-attach.js";
import { containerSecretEnv, NO_SECRET_ENV, withSecrets } from "./step-secrets.js";
import { TaskStepProcess } from "./task-step-process.js";
import { VolumeCaches } from "./volume-caches.js";
import { DEFAULT_HELPER_IMAGE, WorkspaceVolume } from "./workspace-volume.js";

export interface DockerExecutorOptions {
  /** A dockerode instance, or its options (host, port, TLS...). Default: the engine's default socket. */
  docker?: Docker | Docker.DockerOptions;
  /** Shorthand for `{ docker: { socketPath } }`: a Docker or Podman API socket. */
  socketPath?: string;
  /**
   * Network of step containers and image builds. "build" (the default): a network of the
   * build's own (a user-defined bridge, labelled like the workspace volume), which all its
   * steps join, each reachable by its step name; removed with the build. "none": no network.
   * "host": the engine host's network, so steps reach every port of that machine (the
   * worker's, Postgres...): only when asked, with a warning. Anything else: the name of an
   * existing network, used as is.
   */
  networkMode?: string;
  /** When to pull step images; default "if-not-present". */
  pullPolicy?: PullPolicy;
  /** Upper bound of one image pull; default 300 000 ms. */
  pullTimeoutMs?: number;
  /** Run an init as PID 1 of step containers, so stop's SIGTERM reaches the step's shell; default true. */
  init?: boolean;
  /** Where the workspace volume is mounted, and the working directory of steps; default "/workspace". */
  workspacePath?: string;
  /** Image of the never-started helper that fills and reads the volume; default one imported from an empty tar. */
  helperImage?: string;
  /** Registry to push `docker` step images to; without it `push: true` is skipped with a message. */
  pushRegistry?: PushRegistry;
  /**
   * The stand-in for Kubernetes Secrets (WHARF_SECRETS_DIR): `<dir>/<secret>/<key>`, as a
   * Secret mounted as a volume is laid out (see HostSecrets). With it, a container step's
   * `secretName` gives env vars, a docker step's `secretArgs` build args from its
   * `secretName`, and its registry `secret` the push credentials; their values are masked.
   * Without it those fields are warned about and ignored.
   */
  secretsDir?: string;
  /** Who owns the project Secrets `secretName` names (WHARF_INSTANCE, WHARF_PROJECT_ID); see HostSecrets. */
  secretsProject?: ProjectSecrets;
  /** The certificate (PEM) `append-cert: true` adds to images (WHARF_APPEND_CERT_FILE); without it, a warning. */
  appendCertFile?: string;
  /** Budget of all step caches (`cache:`) on the engine; least recently saved ones go beyond it. Default 10 GiB. */
  cacheMaxBytes?: number;
  logger?: Logger;
}

/**
 * Per build: steps still starting and image builds running (neither has a container the
 * label sweep would find), so `destroyBuild` can abort and await them.
 */
interface BuildActivity {
  abort: AbortController;
  pending: Set<Promise<unknown>>;
}

/**
 * Runs steps as containers on a Docker or Podman engine: one container per `container`
 * step from its image, all sharing the build's workspace volume; `docker` steps build
 * their image with the engine. Everything created (containers, the workspace volume, the
 * build's network) carries the build's labels, so `destroyBuild` and `removeLeftovers` find it.
 */
export class DockerExecutor implements Executor {
  readonly kind = "docker";
  readonly docker: Docker;
  private readonly networkMode: string;
  private readonly pullPolicy: PullPolicy;
  private readonly pullTimeoutMs: number;
  private readonly init: boolean;
  private readonly workspacePath: string;
  private readonly pushRegistry: PushRegistry | undefined;
  private readonly secrets: HostSecrets | undefined;
  private readonly appendCertFile: string | undefined;
  private readonly ignoredFields: readonly IgnoredField[];
  private readonly log: Logger;
  private readonly workspace: WorkspaceVolume;
  readonly caches: VolumeCaches;
  private readonly starts = new Map<string, BuildActivity>();
  /** What prepareBuild started for a build (sweepAndMake), until its setupBuild or destroyBuild. */
  private readonly prepared = new Map<string, Promise<void>>();
  /** The copy of a build's source into its workspace, which setupBuild starts and steps wait for. */
  private readonly filling = new Map<string, Promise<void>>();
  /** The engine's unix socket: steps are gated (started beside the copy) only through it. */
  private readonly socketPath: string | undefined;

  constructor(options: DockerExecutorOptions = {}) {
    const given = options.docker;
    this.docker =
      given instanceof Docker
        ? given
        : new Docker({ ...given, ...(options.socketPath ? { socketPath: options.socketPath } : {}) });
    this.networkMode = options.networkMode ?? BUILD_NETWORK;
    if (this.networkMode === "")
      throw new ExecutorError('networkMode must be "build", "none", "host" or a network name');
    this.pullPolicy = options.pullPolicy ?? "if-not-present";
    this.pullTimeoutMs = options.pullTimeoutMs ?? 300_000;
    this.init = options.init ?? true;
    this.workspacePath = options.workspacePath ?? "/workspace";
    this.pushRegistry = options.pushRegistry;
    this.secrets = options.secretsDir
      ? new HostSecrets(options.secretsDir, options.secretsProject)
      : undefined;
    this.appendCertFile = options.appendCertFile;
    this.ignoredFields = [
      ...(this.secrets ? [] : SECRETS_DIR_FIELDS),
      ...DOCKER_IGNORED_FIELDS,
      ...(this.appendCertFile ? [] : APPEND_CERT_FIELDS),
    ];
    this.log = options.logger ?? createLogger("executor-docker");
    this.workspace = new WorkspaceVolume(
      this.docker,
      options.helperImage ?? DEFAULT_HELPER_IMAGE,
      this.workspacePath,
    );
    this.caches = new VolumeCaches(
      this.docker,
      options.helperImage ?? DEFAULT_HELPER_IMAGE,
      this.workspacePath,
      options.cacheMaxBytes ?? DEFAULT_CACHE_MAX_BYTES,
      this.log,
      (build) => this.filled(build),
    );
    this.socketPath = engineSocketPath(this.docker);
    if (this.networkMode === "host")
      this.log.warn(
        { networkMode: "host" },
        'step containers run on the host network: they can reach every port of this machine, this worker\'s included; set WHARF_DOCKER_NETWORK to "build" (the default) unless a pipeline needs it',
      );
  }

  async ping(): Promise<void> {
    try {
      await this.docker.ping();
    } catch (err) {
      throw new ExecutorError(`container engine does not answer: ${(err as Error).message}`, { cause: err });
    }
  }

  prepareBuild(build: Omit<BuildSpec, "sourceDir">): Promise<void> {
    let prepared = this.prepared.get(build.buildRef);
    if (!prepared) {
      prepared = this.sweepAndMake(build);
      // Told by the setupBuild that awaits it; unawaited when the build never gets that far.
      prepared.catch(() => {});
      this.prepared.set(build.buildRef, prepared);
    }
    return prepared;
  }

  /**
   * Resolves once the source is known readable and its copy into the workspace has begun, not
   * when it is done (for the worker's own checkout, `sourceDisposable`): a step's container then starts beside the copy (its start, ~0.3 s, is
   * longer than the copy of most repositories), and its commands wait for it (see gatedScript).
   * Everything else that reads the workspace waits for the copy (`filled`); a failed copy
   * fails them, and the first step's start with it.
   */
  async setupBuild(build: BuildSpec): Promise<void> {
    // Made beside the worker's checkout when it called prepareBuild; else now. A retried setup
    // (same build ref) sweeps again, starting from nothing rather than failing on name clashes.
    const prepared = this.prepared.get(build.buildRef) ?? this.sweepAndMake(build);
    this.prepared.delete(build.buildRef);
    await prepared;
    const { copied } = await this.workspace.fill(build);
    copied.catch(() => {});
    this.filling.set(build.buildRef, copied);
    // Only the worker's own checkout is left alone while it is copied: a developer's directory
    // (`wharf run`) may change meanwhile (a file growing as it is packed fails the copy: "Size
    // mismatch", seen with a data directory inside the source), so its copy is awaited here.
    if (!build.sourceDisposable) await copied;
  }

  /** Resolves when the build's workspace holds its source (setupBuild's copy is done). */
  private filled(build: Omit<BuildSpec, "sourceDir">): Promise<void> {
    return this.filling.get(build.buildRef) ?? Promise.resolve();
  }

  /**
   * The build's leftovers swept, then its network and empty workspace volume: what needs no
   * source. The two need nothing of each other, so they are made at once (the network's bridge
   * set-up alone ~50–100 ms here); both are awaited before a failure is told, so the
   * destroyBuild that follows finds all.
   */
  private async sweepAndMake(build: Omit<BuildSpec, "sourceDir">): Promise<void> {
    await removeLeftovers(this.docker, { [LABEL_BUILD_REF]: build.buildRef });
    const made = await Promise.allSettled([
      this.networkMode === BUILD_NETWORK ? this.createNetwork(build) : undefined,
      this.workspace.make(build),
    ]);
    for (const m of made) if (m.status === "rejected") throw m.reason;
  }

  async startStep(build: BuildSpec, step: PlanStep, env: Record<string, string>): Promise<StepProcess> {
    const starts = this.startsOf(build.buildRef);
    const starting = this.start(build, step, env, starts.abort.signal);
    starts.pending.add(starting);
    try {
      const proc = await starting;
      if (starts.abort.signal.aborted) {
        await proc.destroy();
        throw new StepStartError(
          `build ${build.buildRef} was destroyed while step ${step.name} started`,
          step.id,
        );
      }
      return withWarnings(proc, [
        ...ignoredFieldWarnings(step, this.kind, this.ignoredFields),
        ...(proc.warnings ?? []),
      ]);
    } finally {
      starts.pending.delete(starting);
    }
  }

  async collectFiles(build: BuildSpec, globs: string[], destDir: string): Promise<string[]> {
    await this.filled(build);
    return this.workspace.collect(build, globs, destDir);
  }

  async destroyBuild(build: Omit<BuildSpec, "sourceDir">): Promise<void> {
    // A network still being made for a build that never got set up is removed with the rest.
    const prepared = this.prepared.get(build.buildRef);
    this.prepared.delete(build.buildRef);
    await prepared?.catch(() => {});
    await this.filling.get(build.buildRef)?.catch(() => {});
    this.filling.delete(build.buildRef);
    const starts = this.starts.get(build.buildRef);
    this.starts.delete(build.buildRef);
    if (starts) {
      starts.abort.abort();
      await Promise.allSettled([...starts.pending]);
    }
    await removeLeftovers(this.docker, { [LABEL_BUILD_REF]: build.buildRef });
  }

  /** Containers, volumes and networks matching all `labels` (e.g. a build ref), for a worker's start-up sweep. */
  findLeftovers(labels: Record<string, string>): Promise<Leftovers> {
    return findLeftovers(this.docker, labels);
  }

  /** Force-removes what `findLeftovers` finds; returns it. */
  removeLeftovers(labels: Record<string, string>): Promise<Leftovers> {
    return removeLeftovers(this.docker, labels);
  }

  private async start(
    build: BuildSpec,
    step: PlanStep,
    env: Record<string, string>,
    signal: AbortSignal,
  ): Promise<StepProcess> {
    if (step.type === "docker") return this.startImageBuild(build, step, { ...build.env, ...env }, signal);
    if (step.type !== "container")
      throw new StepStartError(`step type ${step.type} is not supported by the docker executor`, step.id, {
        permanent: true,
      });
    try {
      await ensureImage(this.docker, step.spec.image, this.pullPolicy, this.pullTimeoutMs, signal);
    } catch (err) {
      if (err instanceof ImageUnavailableError)
        throw new StepStartError(err.message, step.id, { cause: err });
      throw new ExecutorError(`cannot inspect image ${step.spec.image}: ${(err as Error).message}`, {
        cause: err,
      });
    }
    await this.assertWorkspace(build);
    // A step whose shell can wait for its go starts beside the workspace's copy; any other after it.
    const gate =
      this.socketPath !== undefined && isGateableShell(step.spec.shell)
        ? { socketPath: this.socketPath, ready: this.filled(build) }
        : undefined;
    if (!gate) await this.filled(build);
    const fromSecret = this.secrets
      ? await this.readSecret(step, () => containerSecretEnv(this.secrets as HostSecrets, step.spec))
      : NO_SECRET_ENV;
    const options = stepContainerOptions(
      build,
      step,
      { ...fromSecret.env, ...env },
      {
        network: buildNetworkMode(this.networkMode, build.buildRef),
        buildNetwork: this.networkMode === BUILD_NETWORK,
        init: this.init,
        workspacePath: this.workspacePath,
        gated: gate !== undefined,
      },
    );
    try {
      return withSecrets(
        await ContainerStep.start(this.docker, options, gate),
        fromSecret.masked,
        fromSecret.notes,
      );
    } catch (err) {
      if (err instanceof ExecutorError) throw err; // the workspace's copy failed
      // An engine answer (any HTTP status) refuses this step's container: bad shell, mount, network...
      // No answer at all (socket error) is the engine's fault, not the step's.
      if ((err as { statusCode?: number }).statusCode !== undefined)
        throw new StepStartError(`cannot start step container: ${(err as Error).message}`, step.id, {
          cause: err,
        });
      throw new ExecutorError(`container engine failed: ${(err as Error).message}`, { cause: err });
    }
  }

  /** Reads secrets for a step: a missing Secret or key fails the step's start for good. */
  private async readSecret<T>(step: PlanStep, read: () => Promise<T> | T): Promise<T> {
    try {
      return await read();
    } catch (err) {
      if (err instanceof HostSecretError || (err as { permanent?: boolean }).permanent)
        throw new StepStartError((err as Error).message, step.id, { cause: err });
      throw err;
    }
  }

  private async startImageBuild(
    build: BuildSpec,
    step: PlanStep & { type: "docker" },
    env: Record<string, string>,
    buildSignal: AbortSignal,
  ): Promise<StepProcess> {
    let spec: ReturnType<typeof imageBuildSpec>;
    try {
      spec = imageBuildSpec(step.spec, env);
    } catch (err) {
      if (err instanceof ImageBuildSpecError) throw new StepStartError(err.message, step.id, { cause: err });
      throw err;
    }
    const secrets: ImageBuildSecrets | undefined = this.secrets
      ? await this.readSecret(step, () => imageBuildSecrets(step.spec, this.secrets as HostSecrets))
      : undefined;
    const appendCert = step.spec.appendCert ? await this.appendedCert() : undefined;
    const proc = new TaskStepProcess(
      (io) =>
        runImageBuild(
          {
            docker: this.docker,
            context: () => this.filled(build).then(() => this.workspace.archive(build, spec.context)),
            spec,
            push: step.spec.push,
            pushRegistry: this.pushRegistry,
            ...(secrets ? { registryAuths: secrets.registryAuths, secretBuildArgs: secrets.buildArgs } : {}),
            ...(appendCert ? { appendCert } : {}),
            networkMode: buildNetworkMode(this.networkMode, build.buildRef),
            pullBase: step.spec.pull || this.pullPolicy === "always",
            noCache: step.spec.noCache,
            log: this.log,
          },
          io,
        ),
      buildSignal,
    );
    const activity = this.startsOf(build.buildRef);
    const running = proc.wait();
    activity.pending.add(running);
    void running.then(() => activity.pending.delete(running));
    return withSecrets(proc, secrets?.masked ?? [], secrets?.notes ?? []);
  }

  /** The certificate `append-cert` adds (WHARF_APPEND_CERT_FILE); unreadable is this worker's fault, not the step's. */
  private async appendedCert(): Promise<Buffer | undefined> {
    if (!this.appendCertFile) return undefined;
    try {
      return await fs.readFile(this.appendCertFile);
    } catch (err) {
      throw new ExecutorError(
        `WHARF_APPEND_CERT_FILE ${this.appendCertFile} cannot be read: ${(err as NodeJS.ErrnoException).code}`,
        { cause: err },
      );
    }
  }

  /**
   * The build's own network. An engine that cannot create a bridge network (no bridge
   * driver, no free address pool, a rootless engine without network plugins...) refuses here,
   * before any step ran, with what the operator can do about it. (Docker started with
   * `--bridge=none --iptables=false` still creates one: only the default "bridge" is missing.)
   */
  private async createNetwork(build: Omit<BuildSpec, "sourceDir">): Promise<void> {
    const options = networkCreateOptions(build);
    try {
      await this.docker.createNetwork(options);
    } catch (err) {
      const message = (err as Error).message;
      if ((err as { statusCode?: number }).statusCode === undefined)
        throw new ExecutorError(`container engine failed: ${message}`, { cause: err });
      throw new ExecutorError(
        `the container engine cannot create the build's network ${options.Name} (bridge driver): ${message}; ` +
          'set WHARF_DOCKER_NETWORK to "none" (steps without a network) or to the name of an existing network',
        { cause: err },
      );
    }
  }

  /** Without this check the engine would create an unlabelled volume of that name on the fly. */
  private async assertWorkspace(build: BuildSpec): Promise<void> {
    try {
      await this.docker.getVolume(volumeName(build.buildRef)).inspect();
    } catch (err) {
      if ((err as { statusCode?: number }).statusCode !== 404) throw err;
      throw new ExecutorError(
        `workspace volume of build ${build.buildRef} is missing: setupBuild was not called`,
      );
    }
  }

  private startsOf(buildRef: string): BuildActivity {
    let starts = this.starts.get(buildRef);
    if (!starts) {
      starts = { abort: new AbortController(), pending: new Set() };
      this.starts.set(buildRef, starts);
    }
    return starts;
  }
}
