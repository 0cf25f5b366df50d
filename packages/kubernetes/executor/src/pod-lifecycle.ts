import type { V1ContainerState, V1Pod } from "@kubernetes/client-node";
import { STUCK_WAITING_REASONS } from "@wharf/kube-manifests";
import { isTransient, type KubeClient } from "./kube-api.js";

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

/** How long the diagnosis after a start timeout may take (the deadline has passed already). */
const WARNINGS_TIMEOUT_MS = 5_000;

/** The last Warning events of a pod, for an error message (scheduling, mount and pull failures). */
async function warnings(kube: KubeClient, namespace: string, name: string): Promise<string> {
  try {
    const events = await kube.calls.once(
      `list events of pod ${name}`,
      (o) => kube.core.listNamespacedEvent({ namespace, fieldSelector: `involvedObject.name=${name}` }, o),
      Math.min(WARNINGS_TIMEOUT_MS, kube.calls.policy.requestTimeoutMs),
    );
    // The scheduler repeats FailedScheduling on every retry: each warning is named once.
    const unique = [
      ...new Set(events.items.filter((e) => e.type === "Warning").map((e) => `${e.reason}: ${e.message}`)),
    ];
    return unique.slice(-3).join("; ");
  } catch {
    return "";
  }
}

/**
 * Reasons the PersistentVolume controller records on a claim it will not bind by itself:
 * `FailedBinding` (no class, no default StorageClass: nothing will provision a volume) and
 * `ProvisioningFailed` (e.g. the class does not exist, or its provisioner refused).
 */
const CLAIM_NOT_BINDING_REASONS = new Set(["FailedBinding", "ProvisioningFailed"]);
/** How often a pod that is not scheduled has its claims looked at. */
const CLAIM_CHECK_INTERVAL_MS = 1_000;

function hint(reason: string | undefined): string {
  return reason === "FailedBinding"
    ? "the cluster has no default StorageClass: set WHARF_K8S_STORAGE_CLASS to a StorageClass that provisions volumes, or mark one default"
    : "set WHARF_K8S_STORAGE_CLASS to a StorageClass of the cluster, or unset it to use the default one";
}

/**
 * For a pod the scheduler did not place (PodScheduled False): the first of its claims that is
 * Pending with an event saying it will not be bound, as "workspace claim X is not bound: …".
 * Undefined while nothing says so (a slow provisioner, or not scheduled for another reason).
 * Uses only `list` (the worker's Role has no `get` on claims); any error counts as "nothing".
 */
async function claimNotBinding(
  kube: KubeClient,
  namespace: string,
  pod: V1Pod,
  deadline: number,
): Promise<string | undefined> {
  const scheduled = pod.status?.conditions?.find((c) => c.type === "PodScheduled");
  if (pod.spec?.nodeName || scheduled?.status !== "False") return undefined;
  const claims = (pod.spec?.volumes ?? []).flatMap((v) =>
    v.persistentVolumeClaim ? [v.persistentVolumeClaim.claimName] : [],
  );
  const timeout = () => Math.max(1, Math.min(WARNINGS_TIMEOUT_MS, deadline - Date.now()));
  for (const name of claims) {
    try {
      const found = await kube.calls.once(
        `list claim ${name}`,
        (o) =>
          kube.core.listNamespacedPersistentVolumeClaim(
            { namespace, fieldSelector: `metadata.name=${name}` },
            o,
          ),
        timeout(),
      );
      if (found.items[0]?.status?.phase !== "Pending") continue;
      const events = await kube.calls.once(
        `list events of claim ${name}`,
        (o) =>
          kube.core.listNamespacedEvent(
            {
              namespace,
              fieldSelector: `involvedObject.kind=PersistentVolumeClaim,involvedObject.name=${name}`,
            },
            o,
          ),
        timeout(),
      );
      const why = events.items.filter((e) => CLAIM_NOT_BINDING_REASONS.has(e.reason ?? "")).at(-1);
      if (why)
        return `workspace claim ${name} is not bound: ${why.message} (${why.reason}; ${hint(why.reason)})`;
    } catch {
      // A diagnosis only: the start timeout still binds.
    }
  }
  return undefined;
}

/**
 * Waits until the container runs or has ended. Throws PodStartError as soon as it is
 * stuck (image pull, config error) or when it did not start within the timeout. The
 * timeout binds each status read too: one that hangs is aborted at the deadline, and
 * failed reads are retried (transient errors) only until it.
 */
export async function waitForContainerStart(kube: KubeClient, o: PodWatchOptions): Promise<V1Pod> {
  const deadline = Date.now() + o.timeoutMs;
  let lastError: Error | undefined;
  let nextClaimCheck = 0;
  while (Date.now() < deadline) {
    let pod: V1Pod;
    try {
      pod = await kube.calls.read(
        `read pod ${o.name}`,
        (opts) => kube.core.readNamespacedPod({ name: o.name, namespace: o.namespace }, opts),
        deadline,
      );
    } catch (err) {
      // The API's transient trouble counts against the start timeout; anything else is a fault.
      if (!isTransient(err)) throw err;
      lastError = err as Error;
      await sleep(Math.min(o.pollMs, Math.max(0, deadline - Date.now())));
      continue;
    }
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
    // Not scheduled because its claim cannot be bound: say so now, not at the deadline.
    if (pod.status?.phase === "Pending" && Date.now() >= nextClaimCheck) {
      nextClaimCheck = Date.now() + CLAIM_CHECK_INTERVAL_MS;
      const notBinding = await claimNotBinding(kube, o.namespace, pod, deadline);
      if (notBinding) throw new PodStartError(notBinding, "ClaimNotBound");
    }
    await sleep(Math.min(o.pollMs, Math.max(0, deadline - Date.now())));
  }
  const detail = [
    await warnings(kube, o.namespace, o.name),
    lastError && `last API error: ${lastError.message}`,
  ]
    .filter(Boolean)
    .join("; ");
  throw new PodStartError(
    `pod ${o.name} did not start within ${o.timeoutMs} ms${detail ? ` (${detail})` : ""}`,
    "StartTimeout",
  );
}

/** Resolves with the container's exit code once it terminated; `gone` if the pod disappeared first. */
export async function waitForContainerExit(
  kube: KubeClient,
  o: Omit<PodWatchOptions, "timeoutMs">,
  gone: () => number,
): Promise<number> {
  for (;;) {
    let pod: V1Pod;
    try {
      pod = await kube.calls.read(`read pod ${o.name}`, (opts) =>
        kube.core.readNamespacedPod({ name: o.name, namespace: o.namespace }, opts),
      );
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
  kube: KubeClient,
  namespace: string,
  name: string,
  gracePeriodSeconds: number,
  { pollMs = 50, timeoutMs = 60_000 } = {},
): Promise<void> {
  try {
    // Idempotent: a retry after a lost answer finds the pod terminating or gone (404).
    await kube.calls.read(`delete pod ${name}`, (o) =>
      kube.core.deleteNamespacedPod({ name, namespace, gracePeriodSeconds }, o),
    );
  } catch (err) {
    if (isNotFound(err)) return;
    throw err;
  }
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      await kube.calls.read(
        `read pod ${name}`,
        (o) => kube.core.readNamespacedPod({ name, namespace }, o),
        deadline,
      );
    } catch (err) {
      if (isNotFound(err)) return;
      throw err;
    }
    await sleep(pollMs);
  }
  throw new Error(`pod ${namespace}/${name} still exists ${timeoutMs} ms after deletion`);
}
