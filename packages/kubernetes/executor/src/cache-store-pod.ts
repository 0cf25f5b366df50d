import type { V1Pod } from "@kubernetes/client-node";
import {
  CACHE_STORE_CONTAINER,
  type CacheStoreInput,
  cacheStoreClaim,
  cacheStorePod,
} from "@wharf/kube-manifests";
import type { KubeClient } from "./kube-api.js";
import { isNotFound, PodStartError, waitForContainerStart } from "./pod-lifecycle.js";

const isConflict = (err: unknown) => (err as { code?: number })?.code === 409;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface CacheStorePodOptions {
  namespace: string;
  store: CacheStoreInput;
  timeoutMs: number;
  pollMs: number;
}

/**
 * Makes sure the step-cache store's claim and holder pod exist and the pod runs; resolves with
 * the pod's name. Any worker may be first: a create that finds the object made by another
 * (409) is success. A holder that ended (evicted from its node, say) is deleted and made again,
 * with the uid as a precondition, so one worker never deletes the holder another just made.
 * The data is the claim's, so a new holder finds every cache.
 */
export async function ensureCacheStorePod(kube: KubeClient, o: CacheStorePodOptions): Promise<string> {
  const { namespace, store } = o;
  const deadline = Date.now() + o.timeoutMs;
  while (Date.now() < deadline) {
    let pod: V1Pod | undefined;
    try {
      pod = await kube.calls.read(
        "read the step-cache pod",
        (c) => kube.core.readNamespacedPod({ name: store.name, namespace }, c),
        deadline,
      );
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
    if (!pod) {
      await createIgnoringConflict(() =>
        kube.calls.write("create the step-cache claim", (c) =>
          kube.core.createNamespacedPersistentVolumeClaim({ namespace, body: cacheStoreClaim(store) }, c),
        ),
      );
      await createIgnoringConflict(() =>
        kube.calls.write("create the step-cache pod", (c) =>
          kube.core.createNamespacedPod({ namespace, body: cacheStorePod(store) }, c),
        ),
      );
      continue;
    }
    const ended = ["Succeeded", "Failed"].includes(pod.status?.phase ?? "");
    if (pod.metadata?.deletionTimestamp) {
      await sleep(o.pollMs);
      continue;
    }
    if (ended) {
      await removeEnded(kube, namespace, pod);
      continue;
    }
    const started = await waitForContainerStart(kube, {
      namespace,
      name: store.name,
      container: CACHE_STORE_CONTAINER,
      timeoutMs: Math.max(1, deadline - Date.now()),
      pollMs: o.pollMs,
    });
    const state = started.status?.containerStatuses?.find((s) => s.name === CACHE_STORE_CONTAINER)?.state;
    if (state?.running && started.metadata?.uid === pod.metadata?.uid) return store.name;
  }
  throw new PodStartError(
    `the step-cache pod ${store.name} did not run within ${o.timeoutMs} ms`,
    "StartTimeout",
  );
}

async function createIgnoringConflict(create: () => Promise<unknown>): Promise<void> {
  try {
    await create();
  } catch (err) {
    if (!isConflict(err)) throw err;
  }
}

async function removeEnded(kube: KubeClient, namespace: string, pod: V1Pod): Promise<void> {
  try {
    await kube.calls.read("delete the ended step-cache pod", (c) =>
      kube.core.deleteNamespacedPod(
        {
          name: pod.metadata!.name!,
          namespace,
          gracePeriodSeconds: 0,
          body: { preconditions: { uid: pod.metadata!.uid! } },
        },
        c,
      ),
    );
  } catch (err) {
    // Gone, or already replaced by another worker (the uid no longer matches): both fine.
    if (!isNotFound(err) && !isConflict(err)) throw err;
  }
}
