import type { ChildProcess } from "node:child_process";
import { once } from "node:events";
import fs from "node:fs/promises";
import { ContainerLog } from "./container-log.js";
import { type FakeNode, NodePlacement } from "./node-placement.js";
import type { KubeObject, ObjectStore, StoreEvent } from "./object-store.js";
import { ContainerConfigError, PodSandbox, VolumeError } from "./pod-sandbox.js";

export interface KubeletOptions {
  /** Host directory for pod sandboxes and PVC data. */
  rootDir: string;
  /** Whether an image can be "pulled"; false gives ErrImagePull then ImagePullBackOff. Default: every image exists. */
  imageExists?: (image: string) => boolean;
  nodeName?: string;
  /** The cluster's nodes, for pod placement and volume attachment (NodePlacement). Default: [nodeName]. */
  nodes?: FakeNode[];
  /** A deleted pod's object stays for its whole grace period, even when its containers stopped sooner. */
  holdTerminatingPods?: boolean;
}

// biome-ignore lint/suspicious/noExplicitAny: container specs are open JSON
type Container = Record<string, any>;

interface RunningPod {
  sandbox: PodSandbox;
  processes: Map<string, ChildProcess>;
  logs: Map<string, ContainerLog>;
  stopping: boolean;
  /** Containers the kubelet removed (the pod is being deleted and they ended). */
  removed: Set<string>;
  done: Promise<void>;
  /** The deletion under way (stop, then remove the object), once it began. */
  terminating?: Promise<void>;
}

const now = () => new Date().toISOString().replace(/\.\d+Z$/, "Z");
const containerId = (podUid: string, name: string) => `fake://${podUid}-${name}`;
/** What the kubelet writes into a followed log body when the runtime removed the container meanwhile. */
const containerNotFound = (podUid: string, name: string) =>
  `rpc error: code = NotFound desc = an error occurred when try to find container "${podUid}-${name}": not found`;
const SIGNALS: Record<string, number> = { SIGTERM: 15, SIGKILL: 9, SIGINT: 2, SIGHUP: 1 };

/**
 * A tiny kubelet: moves pods Pending → Running → Succeeded/Failed, running init containers
 * one after another and then the containers together as host processes, and keeps
 * their output as container logs. Restart policies other than Never are not simulated
 * (a container that ends stays terminated).
 */
export class FakeKubelet {
  private readonly pods = new Map<string, RunningPod>();
  private readonly unsubscribe: () => void;
  readonly nodeName: string;
  private readonly placement: NodePlacement;

  constructor(
    private readonly store: ObjectStore,
    private readonly options: KubeletOptions,
  ) {
    const first = options.nodes?.[0];
    this.nodeName = options.nodeName ?? (typeof first === "string" ? first : first?.name) ?? "fake-node";
    this.placement = new NodePlacement(options.nodes ?? [this.nodeName], store);
    this.unsubscribe = store.subscribe((e) => this.onChange(e));
  }

  private onChange(event: StoreEvent): void {
    if (event.resource !== "pods") return;
    const uid = event.object.metadata.uid!;
    if (event.type === "ADDED") {
      const running: RunningPod = {
        sandbox: new PodSandbox(event.object, this.options.rootDir, this.store),
        processes: new Map(),
        logs: new Map(),
        stopping: false,
        removed: new Set(),
        done: Promise.resolve(),
      };
      this.pods.set(uid, running);
      running.done = this.runPod(event.object, running).catch((err) => {
        this.event(event.object, "Warning", "FailedSync", `fake kubelet: ${(err as Error).message}`);
      });
    } else if (event.type === "MODIFIED" && event.object.metadata.deletionTimestamp) {
      void this.terminate(event.object);
    } else if (event.type === "DELETED") {
      const running = this.pods.get(uid);
      if (running) {
        running.stopping = true;
        this.killAll(running, "SIGKILL");
      }
    }
  }

  /** The log of a pod's container, or undefined if it never started. */
  containerLog(podUid: string, container: string): ContainerLog | undefined {
    return this.pods.get(podUid)?.logs.get(container);
  }

  /**
   * The text the kubelet writes into a log body that was already answered 200 when it
   * cannot read the container (any more): its runtime has removed it. Undefined while the
   * container can be read.
   */
  containerLogError(podUid: string, container: string): string | undefined {
    const running = this.pods.get(podUid);
    if (!running?.removed.has(container)) return undefined;
    return `unable to retrieve container logs for ${containerId(podUid, container)}`;
  }

  /** The sandbox of a pod the kubelet knows (for exec). */
  sandbox(podUid: string): PodSandbox | undefined {
    return this.pods.get(podUid)?.sandbox;
  }

  private update(pod: KubeObject, change: (p: KubeObject) => void): void {
    if (!this.store.get("pods", pod.metadata.namespace!, pod.metadata.name!)) return;
    this.store.update("pods", pod.metadata.namespace!, pod.metadata.name!, change);
  }

  private setContainerState(
    pod: KubeObject,
    init: boolean,
    name: string,
    state: object,
    extra: object = {},
  ): void {
    this.update(pod, (p) => {
      const field = init ? "initContainerStatuses" : "containerStatuses";
      const statuses: Container[] = p.status[field];
      const s = statuses.find((c) => c.name === name)!;
      Object.assign(s, { state, ...extra });
    });
  }

  /** Records an Event about the pod, as the kubelet and scheduler do. */
  event(
    pod: KubeObject,
    type: "Normal" | "Warning",
    reason: string,
    message: string,
    component = "kubelet",
  ): void {
    const ns = pod.metadata.namespace!;
    this.store.create("events", ns, {
      apiVersion: "v1",
      kind: "Event",
      metadata: { generateName: `${pod.metadata.name}.` },
      involvedObject: {
        kind: "Pod",
        namespace: ns,
        name: pod.metadata.name,
        uid: pod.metadata.uid,
        apiVersion: "v1",
      },
      type,
      reason,
      message,
      source: component === "kubelet" ? { component, host: this.nodeName } : { component },
      firstTimestamp: now(),
      lastTimestamp: now(),
      count: 1,
    });
  }

  /** Binds the pod to a node and sets its first status; false when it fits no node (it stays Pending). */
  private initialStatus(pod: KubeObject): boolean {
    const placed = this.placement.schedule(pod);
    if ("reason" in placed) {
      this.update(pod, (p) => {
        p.status = {
          phase: "Pending",
          qosClass: "BestEffort",
          conditions: [
            { type: "PodScheduled", status: "False", reason: "Unschedulable", message: placed.reason },
          ],
        };
      });
      this.event(pod, "Warning", "FailedScheduling", placed.reason);
      return false;
    }
    const node = placed.node;
    const waiting = (reason: string) => (c: Container) => ({
      name: c.name,
      image: c.image,
      imageID: "",
      ready: false,
      restartCount: 0,
      started: false,
      state: { waiting: { reason } },
    });
    const inits: Container[] = pod.spec.initContainers ?? [];
    this.update(pod, (p) => {
      p.spec.nodeName = node;
      p.status = {
        phase: "Pending",
        qosClass: "BestEffort",
        hostIP: "127.0.0.1",
        podIP: "127.0.0.1",
        startTime: now(),
        conditions: [
          { type: "PodScheduled", status: "True", lastTransitionTime: now() },
          { type: "Initialized", status: inits.length ? "False" : "True", lastTransitionTime: now() },
          { type: "ContainersReady", status: "False", lastTransitionTime: now() },
          { type: "Ready", status: "False", lastTransitionTime: now() },
        ],
        ...(inits.length ? { initContainerStatuses: inits.map(waiting("PodInitializing")) } : {}),
        containerStatuses: pod.spec.containers.map(
          waiting(inits.length ? "PodInitializing" : "ContainerCreating"),
        ),
      };
    });
    this.event(
      pod,
      "Normal",
      "Scheduled",
      `Successfully assigned ${pod.metadata.namespace}/${pod.metadata.name} to ${node}`,
    );
    return true;
  }

  /** Checks the image and config; on failure leaves the container waiting with the kubelet's reason. */
  private async admit(pod: KubeObject, running: RunningPod, c: Container, init: boolean): Promise<boolean> {
    const imageExists = this.options.imageExists ?? (() => true);
    if (!imageExists(c.image)) {
      const message = `rpc error: code = NotFound desc = failed to pull and unpack image "${c.image}": not found`;
      this.event(pod, "Warning", "Failed", `Failed to pull image "${c.image}": ${message}`);
      this.setContainerState(pod, init, c.name, { waiting: { reason: "ErrImagePull", message } });
      // A real kubelet backs off and retries forever; the pod stays Pending.
      await new Promise((r) => setTimeout(r, 20));
      if (!running.stopping) {
        this.setContainerState(pod, init, c.name, {
          waiting: { reason: "ImagePullBackOff", message: `Back-off pulling image "${c.image}"` },
        });
      }
      return false;
    }
    try {
      running.sandbox.environment(c);
    } catch (err) {
      if (!(err instanceof ContainerConfigError)) throw err;
      this.event(pod, "Warning", "Failed", `Error: ${err.message}`);
      this.setContainerState(pod, init, c.name, {
        waiting: { reason: "CreateContainerConfigError", message: err.message },
      });
      return false;
    }
    return true;
  }

  /** Starts a container's process and resolves with its exit code once it ended. */
  private async runContainer(
    pod: KubeObject,
    running: RunningPod,
    c: Container,
    init: boolean,
  ): Promise<number> {
    const argv: string[] = [...(c.command ?? []), ...(c.args ?? [])];
    const log = new ContainerLog();
    running.logs.set(c.name, log);
    const startedAt = now();
    if (running.stopping) {
      log.end();
      return 137;
    }
    if (argv.length === 0) {
      log.end();
      this.setContainerState(pod, init, c.name, {
        terminated: {
          exitCode: 128,
          reason: "StartError",
          message: "fake kubelet: no command (image entrypoints are not simulated)",
          startedAt,
          finishedAt: now(),
        },
      });
      return 128;
    }
    const child = running.sandbox.spawn(c, argv);
    running.processes.set(c.name, child);
    child.stdin?.end();
    child.stdout?.on("data", (d: Buffer) => log.append(d));
    child.stderr?.on("data", (d: Buffer) => log.append(d));
    const exited = new Promise<number>((resolve) => {
      child.once("error", (err) => {
        log.append(Buffer.from(`exec: ${err.message}\n`));
        resolve(127);
      });
      child.once("close", (code, signal) => resolve(code ?? 128 + (SIGNALS[signal ?? "SIGKILL"] ?? 9)));
    });
    const containerID = containerId(pod.metadata.uid!, c.name);
    this.event(pod, "Normal", "Started", `Started container ${c.name}`);
    this.setContainerState(
      pod,
      init,
      c.name,
      { running: { startedAt } },
      { started: true, ready: !init, containerID, imageID: c.image },
    );
    if (!init) this.markReadyIfAllRunning(pod);
    const exitCode = await exited;
    running.processes.delete(c.name);
    if (running.stopping) {
      // The pod is being deleted: the runtime removes the container once it stopped, and a
      // kubelet following its log finds it gone and writes that error into the (200) body.
      running.removed.add(c.name);
      log.end(containerNotFound(pod.metadata.uid!, c.name));
    } else {
      log.end();
    }
    const message = await running.sandbox.terminationMessage(c);
    this.setContainerState(
      pod,
      init,
      c.name,
      {
        terminated: {
          exitCode,
          reason: exitCode === 0 ? "Completed" : "Error",
          ...(message ? { message } : {}),
          startedAt,
          finishedAt: now(),
          containerID,
        },
      },
      { started: false, ready: false },
    );
    return exitCode;
  }

  private markReadyIfAllRunning(pod: KubeObject): void {
    this.update(pod, (p) => {
      const all = (p.status.containerStatuses as Container[]).every((s) => s.state.running);
      p.status.phase = "Running";
      if (all) {
        for (const cond of p.status.conditions as Container[]) {
          if (cond.type === "ContainersReady" || cond.type === "Ready") cond.status = "True";
        }
      }
    });
  }

  private setPhase(pod: KubeObject, phase: "Succeeded" | "Failed"): void {
    this.update(pod, (p) => {
      p.status.phase = phase;
      for (const cond of p.status.conditions as Container[]) {
        if (cond.type === "ContainersReady" || cond.type === "Ready") cond.status = "False";
      }
    });
  }

  /** Claims of the pod's volumes that exist but are not Bound (a missing one is the sandbox's VolumeError). */
  private unboundClaims(pod: KubeObject): string[] {
    const ns = pod.metadata.namespace!;
    return ((pod.spec.volumes ?? []) as Container[]).flatMap((v) => {
      const name: string | undefined = v.persistentVolumeClaim?.claimName;
      if (!name) return [];
      const claim = this.store.get("persistentvolumeclaims", ns, name);
      return claim && claim.status?.phase !== "Bound" ? [name] : [];
    });
  }

  /**
   * The scheduler's volume binding: a pod whose claim is not bound is not placed on a node.
   * It stays Pending with PodScheduled False (Unschedulable) and one FailedScheduling event
   * until its claims are bound or it is deleted. False when it was deleted meanwhile.
   */
  private async waitForBoundClaims(pod: KubeObject, running: RunningPod): Promise<boolean> {
    if (this.unboundClaims(pod).length === 0) return true;
    const message = "0/1 nodes are available: 1 pod has unbound immediate PersistentVolumeClaims.";
    this.update(pod, (p) => {
      p.status = {
        phase: "Pending",
        qosClass: "BestEffort",
        conditions: [
          {
            type: "PodScheduled",
            status: "False",
            reason: "Unschedulable",
            message,
            lastTransitionTime: now(),
          },
        ],
      };
    });
    this.event(pod, "Warning", "FailedScheduling", message, "default-scheduler");
    while (!running.stopping && this.unboundClaims(pod).length > 0) {
      await new Promise((r) => setTimeout(r, 50));
    }
    return !running.stopping;
  }

  private async runPod(pod: KubeObject, running: RunningPod): Promise<void> {
    if (!(await this.waitForBoundClaims(pod, running))) return;
    if (!this.initialStatus(pod)) return;
    if (!(await this.attachVolumes(pod, running))) return;
    try {
      await running.sandbox.prepare();
    } catch (err) {
      if (!(err instanceof VolumeError)) throw err;
      // The scheduler would not place a pod whose claim is missing: it stays Pending.
      this.event(pod, "Warning", "FailedScheduling", err.message);
      return;
    }
    for (const c of (pod.spec.initContainers ?? []) as Container[]) {
      if (running.stopping || !(await this.admit(pod, running, c, true))) return;
      const code = await this.runContainer(pod, running, c, true);
      if (code !== 0) {
        this.setPhase(pod, "Failed");
        return;
      }
    }
    if (running.stopping) return;
    if (pod.spec.initContainers?.length) {
      this.update(pod, (p) => {
        for (const cond of p.status.conditions as Container[])
          if (cond.type === "Initialized") cond.status = "True";
        for (const s of p.status.containerStatuses as Container[])
          s.state = { waiting: { reason: "ContainerCreating" } };
      });
    }
    const containers = pod.spec.containers as Container[];
    for (const c of containers) {
      if (running.stopping || !(await this.admit(pod, running, c, false))) return;
    }
    const codes = await Promise.all(containers.map((c) => this.runContainer(pod, running, c, false)));
    this.setPhase(pod, codes.every((code) => code === 0) ? "Succeeded" : "Failed");
  }

  /** Waits, as the attach/detach controller does, until the pod's claims can be attached to its node. */
  private async attachVolumes(pod: KubeObject, running: RunningPod): Promise<boolean> {
    let reported = false;
    for (;;) {
      const current = this.store.get("pods", pod.metadata.namespace!, pod.metadata.name!);
      if (running.stopping || !current) return false;
      const conflict = this.placement.attachConflict(current);
      if (!conflict) return true;
      if (!reported) this.event(pod, "Warning", "FailedAttachVolume", conflict);
      reported = true;
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  private killAll(running: RunningPod, signal: NodeJS.Signals): void {
    for (const child of running.processes.values()) {
      try {
        if (child.pid) process.kill(-child.pid, signal);
      } catch {
        // already gone
      }
    }
  }

  /**
   * Graceful deletion: SIGTERM, SIGKILL after the grace period, then the object is removed.
   * Once per pod: the status changes while it stops (MODIFIED again) join the one under way.
   */
  private terminate(pod: KubeObject): Promise<void> {
    const running = this.pods.get(pod.metadata.uid!);
    if (!running) {
      this.store.remove("pods", pod.metadata.namespace!, pod.metadata.name!);
      return Promise.resolve();
    }
    running.terminating ??= this.stopAndRemove(pod, running);
    return running.terminating;
  }

  private async stopAndRemove(pod: KubeObject, running: RunningPod): Promise<void> {
    if (!running.stopping) {
      running.stopping = true;
      const graceMs = (pod.metadata.deletionGracePeriodSeconds ?? 30) * 1000;
      const graceEnds = Date.now() + graceMs;
      if (running.processes.size > 0) this.event(pod, "Normal", "Killing", "Stopping container");
      this.killAll(running, graceMs === 0 ? "SIGKILL" : "SIGTERM");
      const timer = setTimeout(() => this.killAll(running, "SIGKILL"), graceMs);
      const exits = [...running.processes.values()].map((c) =>
        c.exitCode !== null || c.signalCode !== null ? Promise.resolve() : once(c, "close"),
      );
      await Promise.all(exits);
      clearTimeout(timer);
      await running.done;
      if (this.options.holdTerminatingPods) {
        while (
          Date.now() < graceEnds &&
          this.store.get("pods", pod.metadata.namespace!, pod.metadata.name!)
        ) {
          await new Promise((r) => setTimeout(r, Math.min(100, graceEnds - Date.now())));
        }
      }
    }
    this.store.remove("pods", pod.metadata.namespace!, pod.metadata.name!);
    this.pods.delete(pod.metadata.uid!);
    await running.sandbox.cleanup();
  }

  /** Kills every process and forgets all pods (server shutdown). */
  async close(): Promise<void> {
    this.unsubscribe();
    for (const running of this.pods.values()) {
      running.stopping = true;
      this.killAll(running, "SIGKILL");
    }
    await Promise.all([...this.pods.values()].map((r) => r.done));
    this.pods.clear();
    await fs.rm(this.options.rootDir, { recursive: true, force: true });
  }
}
