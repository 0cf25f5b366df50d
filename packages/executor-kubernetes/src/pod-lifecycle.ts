import type { CoreV1Api, V1ContainerState, V1Pod } from "@kubernetes/client-node";
import { STUCK_WAITING_REASONS } from "@wharf/kube-manifests";

/** Waiting reasons that will not resolve by themselves: the step cannot start. */
export const STUCK_REASONS = STUCK_WAITING_REASONS;

/** A pod that will not start, with the kubelet's reason (ErrImagePull, ...). */
export class PodStartError extends Error {
  override readonly name = "PodStartError";
  constructor(
    message: string,
    readonly reason: string,
  ) {
    super(message);
  }
}

export const isNotFound = (err: unknown) => (err as { code?: number })?.code === 404;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function containerState(pod: V1Pod, container: string): V1ContainerState | undefined {
  return pod.status?.containerStatuses?.find((s) => s.name === container)?.state;
}

export interface PodWatchOptions {
  namespace: string;
  name: string;
  container: string;
  timeoutMs: number;
  pollMs: number;
}

/** The last Warning events of a pod, for an error message (scheduling, mount and pull failures). */
async function warnings(api: CoreV1Api, namespace: string, name: string): Promise<string> {
  try {
    const events = await api.listNamespacedEvent({ namespace, fieldSelector: `involvedObject.name=${name}` });
    return events.items
      .filter((e) => e.type === "Warning")
      .slice(-3)
      .map((e) => `${e.reason}: ${e.message}`)
      .join("; ");
  } catch {
    return "";
  }
}

/**
 * Waits until the container runs or has ended. Throws PodStartError as soon as it is
 * stuck (image pull, config error) or when it did not start within the timeout.
 */
export async function waitForContainerStart(api: CoreV1Api, o: PodWatchOptions): Promise<V1Pod> {
  const deadline = Date.now() + o.timeoutMs;
  for (let i = 0; Date.now() < deadline && i < o.timeoutMs / o.pollMs + 1; i++) {
    const pod = await api.readNamespacedPod({ name: o.name, namespace: o.namespace });
    const state = containerState(pod, o.container);
    if (state?.running || state?.terminated || ["Succeeded", "Failed"].includes(pod.status?.phase ?? ""))
      return pod;
    const waiting = state?.waiting;
    if (waiting?.reason && STUCK_REASONS.has(waiting.reason)) {
      throw new PodStartError(
        `${waiting.reason}: ${waiting.message ?? "container cannot start"}`,
        waiting.reason,
      );
    }
    await sleep(o.pollMs);
  }
  const detail = await warnings(api, o.namespace, o.name);
  throw new PodStartError(
    `pod ${o.name} did not start within ${o.timeoutMs} ms${detail ? ` (${detail})` : ""}`,
    "StartTimeout",
  );
}

/** Resolves with the container's exit code once it terminated; `gone` if the pod disappeared first. */
export async function waitForContainerExit(
  api: CoreV1Api,
  o: Omit<PodWatchOptions, "timeoutMs">,
  gone: () => number,
): Promise<number> {
  for (;;) {
    let pod: V1Pod;
    try {
      pod = await api.readNamespacedPod({ name: o.name, namespace: o.namespace });
    } catch (err) {
      if (isNotFound(err)) return gone();
      throw err;
    }
    const terminated = containerState(pod, o.container)?.terminated;
    if (terminated) return terminated.exitCode;
    await sleep(o.pollMs);
  }
}

/** Deletes a pod (ignoring "already gone") and waits, bounded, until the API no longer has it. */
export async function deletePod(
  api: CoreV1Api,
  namespace: string,
  name: string,
  gracePeriodSeconds: number,
  { pollMs = 50, timeoutMs = 60_000 } = {},
): Promise<void> {
  try {
    await api.deleteNamespacedPod({ name, namespace, gracePeriodSeconds });
  } catch (err) {
    if (isNotFound(err)) return;
    throw err;
  }
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      await api.readNamespacedPod({ name, namespace });
    } catch (err) {
      if (isNotFound(err)) return;
      throw err;
    }
    await sleep(pollMs);
  }
  throw new Error(`pod ${namespace}/${name} still exists ${timeoutMs} ms after deletion`);
}
