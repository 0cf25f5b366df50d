import { CREATED_BY_EXECUTOR, LABEL_BUILD_REF, LABEL_CREATED_BY } from "@wharf/executor";
import { type CriClient, isNotFound } from "./cri-client.js";
import { LABEL_OWNER, ownerAlive } from "./owner.js";

/** Sandboxes and containers (ids) carrying all of some labels, with the build refs they belong to. */
export interface Leftovers {
  sandboxes: string[];
  containers: string[];
  buildRefs: string[];
}

export async function findLeftovers(cri: CriClient, labels: Record<string, string>): Promise<Leftovers> {
  if (Object.keys(labels).length === 0)
    throw new Error("refusing to look for leftovers without a label to match");
  // Only what an executor created, never a kubelet's pods on the same runtime.
  const selector = { ...labels, [LABEL_CREATED_BY]: CREATED_BY_EXECUTOR };
  const [sandboxes, containers] = await Promise.all([
    cri.listPodSandboxes(selector),
    cri.listContainers(selector),
  ]);
  const refs = new Set([...sandboxes, ...containers].map((x) => x.labels[LABEL_BUILD_REF] ?? ""));
  refs.delete("");
  return {
    sandboxes: sandboxes.map((s) => s.id),
    containers: containers.map((c) => c.id),
    buildRefs: [...refs],
  };
}

/**
 * Removes the containers, then the sandboxes, matching `labels`; returns what was found.
 * Containers are stopped without grace first: RemoveContainer of a running one is refused by
 * some runtimes. Stopping a sandbox tears down its network namespace and mounts (shm), which
 * RemovePodSandbox needs.
 */
export async function removeLeftovers(cri: CriClient, labels: Record<string, string>): Promise<Leftovers> {
  const found = await findLeftovers(cri, labels);
  await Promise.all(found.containers.map((id) => removeContainer(cri, id)));
  await Promise.all(
    found.sandboxes.map(async (id) => {
      await ignoreNotFound(cri.stopPodSandbox(id));
      await ignoreNotFound(cri.removePodSandbox(id));
    }),
  );
  return found;
}

const REMOVING_POLLS = 50;

/**
 * Stops (no grace, unless known to have exited) and removes a container. Another remover may be at it too (the step's own
 * destroy and the build's sweep): containerd then answers "already in removing state", and
 * this waits, bounded, until the container is gone.
 */
export async function removeContainer(
  cri: CriClient,
  id: string,
  opts: { stopFirst: boolean } = { stopFirst: true },
): Promise<void> {
  if (opts.stopFirst) await ignoreNotFound(cri.stopContainer(id, 0));
  for (let poll = 1; ; poll++) {
    try {
      await ignoreNotFound(cri.removeContainer(id));
      return;
    } catch (err) {
      if (!/removing state/.test(String((err as Error).message)) || poll >= REMOVING_POLLS) throw err;
      await new Promise((r) => setTimeout(r, 20 * Math.min(poll, 10)));
    }
  }
}

/**
 * The owners (LABEL_OWNER values) of sandboxes and containers made by an executor process of
 * this host that is gone (a killed worker), each with its build refs: what to remove by owner.
 * By owner, not build ref: a retried build of the same ref may be running under a live worker.
 */
export async function findDeadOwners(cri: CriClient): Promise<Map<string, Set<string>>> {
  const selector = { [LABEL_CREATED_BY]: CREATED_BY_EXECUTOR };
  const [sandboxes, containers] = await Promise.all([
    cri.listPodSandboxes(selector),
    cri.listContainers(selector),
  ]);
  const dead = new Map<string, Set<string>>();
  const alive = new Set<string>();
  for (const x of [...sandboxes, ...containers]) {
    const owner = x.labels[LABEL_OWNER];
    if (!owner || alive.has(owner)) continue;
    if (!dead.has(owner) && (await ownerAlive(owner))) {
      alive.add(owner);
      continue;
    }
    const refs = dead.get(owner) ?? new Set<string>();
    const ref = x.labels[LABEL_BUILD_REF];
    if (ref) refs.add(ref);
    dead.set(owner, refs);
  }
  return dead;
}

async function ignoreNotFound(call: Promise<unknown>): Promise<void> {
  try {
    await call;
  } catch (err) {
    if (!isNotFound(err)) throw err;
  }
}
