import {
  CoreV1Api,
  type Informer,
  type KubeConfig,
  makeInformer,
  type ObjectCache,
  type V1Pod,
} from "@kubernetes/client-node";
import type { Logger } from "@wharf/config";

export interface WorkerPodCacheOptions {
  kubeConfig: KubeConfig;
  namespace: string;
  labelSelector: string;
  log?: Logger;
  /** Delay before the informer restarts after an error (API server gone, watch refused). Default 1 s. */
  restartDelayMs?: number;
}

/**
 * Worker pods by label, kept current by an informer (one list, then a watch; client-node
 * re-lists on 410 Gone). Readers never call the API server, so `GET /api/worker` and the
 * aggregator's discovery poll cost nothing however often they run. After an error
 * (the informer stops on one) it restarts after a delay until closed.
 */
export class WorkerPodCache {
  private readonly informer: Informer<V1Pod> & ObjectCache<V1Pod>;
  private readonly listeners = new Set<(pod: V1Pod, deleted: boolean) => void>();
  private restartTimer: NodeJS.Timeout | undefined;
  private closed = false;
  private started: Promise<void> | undefined;

  constructor(private readonly opts: WorkerPodCacheOptions) {
    const api = opts.kubeConfig.makeApiClient(CoreV1Api);
    const { namespace, labelSelector } = opts;
    this.informer = makeInformer(
      opts.kubeConfig,
      `/api/v1/namespaces/${encodeURIComponent(namespace)}/pods`,
      () => api.listNamespacedPod({ namespace, labelSelector }),
      labelSelector,
    );
    const notify = (deleted: boolean) => (pod: V1Pod) => {
      for (const l of [...this.listeners]) l(pod, deleted);
    };
    this.informer.on("add", notify(false));
    this.informer.on("update", notify(false));
    this.informer.on("delete", notify(true));
    this.informer.on("error", (err: unknown) => {
      if (this.closed) return;
      opts.log?.warn({ err: String(err) }, "worker pod watch failed; restarting");
      clearTimeout(this.restartTimer);
      this.restartTimer = setTimeout(() => {
        if (!this.closed) this.informer.start().catch(() => {});
      }, opts.restartDelayMs ?? 1000);
      this.restartTimer.unref();
    });
  }

  /** Starts listing and watching; resolves once the first list is in the cache. */
  start(): Promise<void> {
    this.started ??= this.informer.start();
    return this.started;
  }

  list(): V1Pod[] {
    return [...this.informer.list(this.opts.namespace)];
  }

  /** Called on every add, change and delete the watch sees. */
  subscribe(listener: (pod: V1Pod, deleted: boolean) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * Resolves with `check`'s first defined answer, re-checked on each change; undefined
   * once `timeoutMs` passed without one.
   */
  waitFor<T>(check: () => T | undefined, timeoutMs: number): Promise<T | undefined> {
    const now = check();
    if (now !== undefined) return Promise.resolve(now);
    return new Promise((resolve) => {
      const finish = (value: T | undefined) => {
        clearTimeout(timer);
        unsubscribe();
        resolve(value);
      };
      const timer = setTimeout(() => finish(undefined), timeoutMs);
      const unsubscribe = this.subscribe(() => {
        const v = check();
        if (v !== undefined) finish(v);
      });
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.restartTimer);
    this.listeners.clear();
    await this.informer.stop();
  }
}
