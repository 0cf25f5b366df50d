import { PassThrough } from "node:stream";
import type { KubeConfig } from "@kubernetes/client-node";
import type { StepProcess } from "@wharf/executor";
import { apiMessage, STEP_CONTAINER } from "@wharf/kube-manifests";
import type { KubeClient } from "./kube-api.js";
import { followContainerLog } from "./log-follow.js";
import { deletePod, waitForContainerExit } from "./pod-lifecycle.js";

// A stopped pod can vanish before we read its terminated state; report it as killed.
const EXIT_CODE_WHEN_GONE = 137;

/**
 * A step running as a pod. The container's log (stdout and stderr merged, as Kubernetes
 * keeps them) is followed into `stdout`; `stderr` carries nothing and ends with it. The log
 * is followed with `timestamps=true` so the container's lines can be told from text the
 * kubelet writes into the same body (KubeletLogLines).
 */
export class KubeStepProcess implements StepProcess {
  readonly stdout = new PassThrough();
  readonly stderr = new PassThrough();
  private exit?: Promise<number>;
  private stopped?: Promise<void>;
  private logAbort?: AbortController;

  constructor(
    private readonly kc: KubeConfig,
    private readonly kube: KubeClient,
    readonly namespace: string,
    readonly podName: string,
    private readonly pollMs: number,
    /** What to mask of the values of the Secrets the pod references. */
    readonly secrets: readonly string[] = [],
  ) {}

  /** Starts following the container's log; call once the container has started. */
  async followLog(): Promise<void> {
    this.stdout.once("finish", () => this.stderr.end());
    try {
      this.logAbort = await followContainerLog(
        this.kc,
        this.kube.calls,
        { namespace: this.namespace, pod: this.podName, container: STEP_CONTAINER },
        this.stdout,
      );
    } catch (err) {
      // The pod may be gone already (stopped); the step's output then ends here.
      this.stdout.end(`[wharf] could not follow the log of pod ${this.podName}: ${apiMessage(err)}\n`);
    }
  }

  wait(): Promise<number> {
    this.exit ??= waitForContainerExit(
      this.kube,
      { namespace: this.namespace, name: this.podName, container: STEP_CONTAINER, pollMs: this.pollMs },
      () => EXIT_CODE_WHEN_GONE,
    );
    return this.exit;
  }

  /** Deleting the pod is the stop: the kubelet sends SIGTERM, then SIGKILL after the grace period. */
  stop(graceMs: number): Promise<void> {
    this.stopped ??= (async () => {
      const exit = this.wait();
      await deletePod(this.kube, this.namespace, this.podName, Math.max(0, Math.ceil(graceMs / 1000)));
      await exit;
    })();
    return this.stopped;
  }

  async destroy(): Promise<void> {
    this.logAbort?.abort();
    await deletePod(this.kube, this.namespace, this.podName, 0);
    if (!this.stdout.writableEnded) this.stdout.end();
  }
}
