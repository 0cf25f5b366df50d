import { PassThrough } from "node:stream";
import type { KubeConfig } from "@kubernetes/client-node";
import type { StepProcess } from "@wharf/executor";
import { STEP_CONTAINER } from "@wharf/kube-manifests";
import type { KubeClient } from "./kube-api.js";
import { deletePod, waitForContainerExit } from "./pod-lifecycle.js";
import { StepOutputReader, type StepOutputSource } from "./step-output-reader.js";

// A stopped pod can vanish before we read its terminated state; report it as killed.
const EXIT_CODE_WHEN_GONE = 137;
/** How long stop() waits for the reader to hand on what the stopped step wrote last. */
const OUTPUT_DRAIN_MS = 10_000;

/**
 * A step running as a pod. Its stdout and stderr are captured in files on the build's claim
 * and read from there (StepOutputReader), not through the kubelet's log endpoint; the exit
 * code comes from the pod's status.
 */
export class KubeStepProcess implements StepProcess {
  readonly stdout = new PassThrough();
  readonly stderr = new PassThrough();
  private readonly output: StepOutputReader;
  private exit?: Promise<number>;
  private stopped?: Promise<void>;
  private reading: Promise<void> = Promise.resolve();

  constructor(
    kc: KubeConfig,
    private readonly kube: KubeClient,
    readonly namespace: string,
    readonly podName: string,
    output: StepOutputSource,
    private readonly pollMs: number,
    /** What to mask of the values of the Secrets the pod references. */
    readonly secrets: readonly string[] = [],
  ) {
    this.output = new StepOutputReader(kc, kube.calls, output, this.stdout, this.stderr);
  }

  /** Starts reading the step's output; call once the pod exists. */
  readOutput(): void {
    this.reading = this.output.run();
    // Once the container ended its output is complete, even if it could not say so itself.
    const complete = () => this.output.complete(this.reading);
    this.wait().then(complete, complete);
  }

  wait(): Promise<number> {
    this.exit ??= waitForContainerExit(
      this.kube,
      { namespace: this.namespace, name: this.podName, container: STEP_CONTAINER, pollMs: this.pollMs },
      () => EXIT_CODE_WHEN_GONE,
    );
    return this.exit;
  }

  /**
   * Deleting the pod is the stop: the kubelet sends SIGTERM, then SIGKILL after the grace
   * period. Resolves once the step's output is complete too (bounded): what it printed
   * before it was stopped is part of the build's log.
   */
  stop(graceMs: number): Promise<void> {
    this.stopped ??= (async () => {
      const exit = this.wait();
      // At least 1 s: a grace of 0 removes the pod from the API while its container still
      // runs (and writes), which would end its output early.
      await deletePod(this.kube, this.namespace, this.podName, Math.max(1, Math.ceil(graceMs / 1000)));
      await exit;
      let timer: NodeJS.Timeout | undefined;
      const drained = this.output.complete(this.reading);
      await Promise.race([drained, new Promise((r) => (timer = setTimeout(r, OUTPUT_DRAIN_MS)))]);
      clearTimeout(timer);
    })();
    return this.stopped;
  }

  /** Stops reading the output (ending both streams as they are) and deletes the pod. */
  abandon(): void {
    this.output.stop();
    if (!this.stdout.writableEnded) this.stdout.end();
    if (!this.stderr.writableEnded) this.stderr.end();
  }

  async destroy(): Promise<void> {
    this.abandon();
    await deletePod(this.kube, this.namespace, this.podName, 0);
  }
}
