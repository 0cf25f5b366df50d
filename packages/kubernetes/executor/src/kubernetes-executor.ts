import { CoreV1Api } from "@kubernetes/client-node";
import type { PlanStep } from "@wharf/executor";
import {
  assertWorkspaceGlobs,
  type BuildSpec,
  buildLabels,
  type Executor,
  ExecutorError,
  type StepProcess,
  StepStartError,
  stepLabels,
} from "@wharf/executor";
import {
  labelSelector,
  STEP_CONTAINER,
  StepSpecError,
  stepOutputKey,
  stepPod,
  stepRun,
  WORKSPACE_CONTAINER,
  workspaceClaim,
  workspacePod,
} from "@wharf/kube-manifests";
import { ClaimCaches } from "./claim-caches.js";
import { KubeApiCalls, type KubeClient } from "./kube-api.js";
import { KubeStepProcess } from "./kube-step-process.js";
import {
  type CompiledKubernetesOptions,
  compileKubernetesOptions,
  type KubernetesExecutorOptions,
} from "./options.js";
import { deletePod, isNotFound, PodStartError, waitForContainerStart } from "./pod-lifecycle.js";
import { readStepSecrets } from "./step-secrets.js";
import { copyFromWorkspace, copyIntoWorkspace } from "./workspace-transfer.js";

interface BuildResources {
  claimName: string;
  workspacePod: string;
  /** Where the workspace pod runs: the claim is attached there, so the step pods run there too. */
  node?: string;
  /** Steps started and not destroyed: their output readers stop when the build is destroyed. */
  steps: Set<KubeStepProcess>;
}

/**
 * Runs each step as a pod in the worker's namespace. The workspace is a PVC per build,
 * held by a small workspace pod through which the repository is copied in and artifacts
 * out (tar over pods/exec); step pods mount the same claim at /workspace. A step pod's
 * stdout and stderr are captured in files on that claim and read through the workspace pod
 * from offsets (kube-manifests' step-output.ts), never through the kubelet's log endpoint,
 * which can lose a log's end. Every pod and
 * the claim carry the build's labels and (when the worker runs in a pod) an ownerReference
 * to the worker pod, so deleting the worker cascades.
 *
 * Before a step pod is created, the Secrets it references (env and volumes) are read, and
 * what to mask of their values is returned on `StepProcess.secrets` (the worker's Role
 * needs `get` on `secrets`).
 *
 * Step caches live in one claim of the namespace, held by a pod of their own (ClaimCaches).
 */
export class KubernetesExecutor implements Executor {
  readonly kind = "kubernetes";
  private readonly options: CompiledKubernetesOptions;
  private readonly kube: KubeClient;
  private readonly builds = new Map<string, BuildResources>();
  readonly caches: ClaimCaches;

  constructor(options: KubernetesExecutorOptions) {
    this.options = compileKubernetesOptions(options);
    this.kube = {
      core: this.options.kubeConfig.makeApiClient(CoreV1Api),
      calls: new KubeApiCalls(this.options.apiCalls),
    };
    const { nodeSelector, tolerations } = this.options.placement;
    this.caches = new ClaimCaches({
      kubeConfig: this.options.kubeConfig,
      kube: this.kube,
      namespace: this.namespace,
      store: {
        name: this.options.cacheStoreName,
        size: this.options.cacheStoreSize,
        image: this.options.workspaceImage,
        ...(this.options.storageClassName ? { storageClassName: this.options.storageClassName } : {}),
        ...(nodeSelector ? { nodeSelector } : {}),
        ...(tolerations ? { tolerations } : {}),
      },
      maxBytes: this.options.cacheMaxBytes,
      startTimeoutMs: this.options.startTimeoutMs,
      pollMs: this.options.pollMs,
      workspacePodOf: (build) => {
        const pod = this.builds.get(build.buildRef)?.workspacePod;
        if (!pod) throw new ExecutorError(`no workspace for build ${build.buildRef}`);
        return pod;
      },
    });
  }

  private get namespace(): string {
    return this.options.namespace;
  }

  /** One bounded attempt: a health check reports trouble at once rather than retrying through it. */
  async ping(): Promise<void> {
    try {
      await this.kube.calls.once(
        "list pods",
        (o) => this.kube.core.listNamespacedPod({ namespace: this.namespace, limit: 1 }, o),
        this.kube.calls.policy.requestTimeoutMs,
      );
    } catch (err) {
      throw new ExecutorError(`Kubernetes API not reachable: ${(err as Error).message}`, { cause: err });
    }
  }

  private placement() {
    return { owner: this.options.owner, ...this.options.placement };
  }

  async setupBuild(build: BuildSpec): Promise<void> {
    const labels = buildLabels(build);
    const claim = await this.kube.calls.write("create the workspace claim", (o) =>
      this.kube.core.createNamespacedPersistentVolumeClaim(
        {
          namespace: this.namespace,
          body: workspaceClaim({
            buildRef: build.buildRef,
            labels,
            owner: this.options.owner,
            size: this.options.workspaceSize,
            storageClassName: this.options.storageClassName,
          }),
        },
        o,
      ),
    );
    const claimName = claim.metadata!.name!;
    const steps = new Set<KubeStepProcess>();
    this.builds.set(build.buildRef, { claimName, workspacePod: "", steps });
    const pod = await this.kube.calls.write("create the workspace pod", (o) =>
      this.kube.core.createNamespacedPod(
        {
          namespace: this.namespace,
          body: workspacePod({
            buildRef: build.buildRef,
            labels,
            claimName,
            image: this.options.workspaceImage,
            ...this.placement(),
          }),
        },
        o,
      ),
    );
    const podName = pod.metadata!.name!;
    this.builds.set(build.buildRef, { claimName, workspacePod: podName, steps });
    try {
      const started = await waitForContainerStart(this.kube, {
        namespace: this.namespace,
        name: podName,
        container: WORKSPACE_CONTAINER,
        timeoutMs: this.options.startTimeoutMs,
        pollMs: this.options.pollMs,
      });
      this.builds.set(build.buildRef, {
        claimName,
        workspacePod: podName,
        steps,
        ...(started.spec?.nodeName ? { node: started.spec.nodeName } : {}),
      });
      await copyIntoWorkspace(
        this.options.kubeConfig,
        this.kube.calls,
        { namespace: this.namespace, pod: podName },
        build.sourceDir,
      );
    } catch (err) {
      throw new ExecutorError(
        `could not prepare the workspace of build ${build.buildRef}: ${(err as Error).message}`,
        {
          cause: err,
        },
      );
    }
  }

  async startStep(build: BuildSpec, step: PlanStep, env: Record<string, string>): Promise<StepProcess> {
    const resources = this.builds.get(build.buildRef);
    if (!resources) throw new ExecutorError(`setupBuild was not called for build ${build.buildRef}`);
    let run: ReturnType<typeof stepRun>;
    try {
      run = stepRun(step, this.options.images, this.options.projectSecrets);
    } catch (err) {
      if (err instanceof StepSpecError) throw new StepStartError(err.message, step.id, { cause: err });
      throw err;
    }
    // Before the pod exists: the values are masked before the step can print them, and a
    // Secret that is missing or unreadable fails the step without creating a pod.
    let secrets: string[];
    try {
      secrets = await readStepSecrets(this.kube, this.namespace, run, step.id);
    } catch (err) {
      if (err instanceof StepStartError) throw err;
      throw new ExecutorError((err as Error).message, { cause: err });
    }
    const outputKey = stepOutputKey(step.id);
    const created = await this.kube.calls.write(`create the pod of step ${step.id}`, (o) =>
      this.kube.core.createNamespacedPod(
        {
          namespace: this.namespace,
          body: stepPod({
            buildRef: build.buildRef,
            stepId: step.id,
            labels: stepLabels(build, step),
            env: { ...build.env, ...env },
            run,
            workspaceClaim: resources.claimName,
            outputKey,
            workspaceNode: resources.node,
            certificatesConfigMap: this.options.certificatesConfigMap,
            ...this.placement(),
          }),
        },
        o,
      ),
    );
    const process = new KubeStepProcess(
      this.options.kubeConfig,
      this.kube,
      this.namespace,
      created.metadata!.name!,
      { namespace: this.namespace, workspacePod: resources.workspacePod, key: outputKey },
      this.options.pollMs,
      secrets,
    );
    resources.steps.add(process);
    try {
      await waitForContainerStart(this.kube, {
        namespace: this.namespace,
        name: process.podName,
        container: STEP_CONTAINER,
        timeoutMs: this.options.startTimeoutMs,
        pollMs: this.options.pollMs,
      });
    } catch (err) {
      resources.steps.delete(process);
      await process.destroy();
      if (err instanceof PodStartError) throw new StepStartError(err.message, step.id, { cause: err });
      throw err;
    }
    process.readOutput();
    return process;
  }

  async collectFiles(build: BuildSpec, globs: string[], destDir: string): Promise<string[]> {
    const resources = this.builds.get(build.buildRef);
    assertWorkspaceGlobs(globs);
    if (!resources?.workspacePod) throw new ExecutorError(`no workspace for build ${build.buildRef}`);
    return copyFromWorkspace(
      this.options.kubeConfig,
      this.kube.calls,
      { namespace: this.namespace, pod: resources.workspacePod },
      globs,
      destDir,
    );
  }

  /**
   * Deletes every pod of the build (found by label, so also those of a crashed earlier
   * attempt), then the claim. Pods first: the claim is protected while pods use it.
   */
  async destroyBuild(build: BuildSpec): Promise<void> {
    for (const step of this.builds.get(build.buildRef)?.steps ?? []) step.abandon();
    const selector = labelSelector(buildLabels(build));
    const pods = await this.kube.calls.read("list the build's pods", (o) =>
      this.kube.core.listNamespacedPod({ namespace: this.namespace, labelSelector: selector }, o),
    );
    await Promise.all(pods.items.map((p) => deletePod(this.kube, this.namespace, p.metadata!.name!, 0)));
    const claims = await this.kube.calls.read("list the build's claims", (o) =>
      this.kube.core.listNamespacedPersistentVolumeClaim(
        { namespace: this.namespace, labelSelector: selector },
        o,
      ),
    );
    for (const c of claims.items) {
      try {
        await this.kube.calls.read(`delete claim ${c.metadata!.name}`, (o) =>
          this.kube.core.deleteNamespacedPersistentVolumeClaim(
            { name: c.metadata!.name!, namespace: this.namespace },
            o,
          ),
        );
      } catch (err) {
        if (!isNotFound(err)) throw err;
      }
    }
    this.builds.delete(build.buildRef);
  }
}
