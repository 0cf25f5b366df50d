import { WHARF_LABELS, WORKER_COMPONENT } from "@wharf/proto/labels";
import { type WorkerIdentity, workerIdentity } from "@wharf/proto/worker-identity";
import type Docker from "dockerode";

/**
 * The engine's worker containers as the provisioner's backend and the aggregator's discovery
 * both find them: by the component label, whose each is by worker-identity (labels, or a
 * standby-born worker's name).
 */
export async function listWorkerContainers(
  docker: Docker,
  labels: string[] = [`${WHARF_LABELS.component}=${WORKER_COMPONENT}`],
): Promise<Array<{ c: Docker.ContainerInfo; identity: WorkerIdentity }>> {
  const containers = await docker.listContainers({ all: true, filters: { label: labels } });
  return containers.flatMap((c) => {
    const identity = workerIdentity(c);
    return identity ? [{ c, identity }] : [];
  });
}

/**
 * One worker's containers: its own (`worker`, undefined when gone) first, then its step
 * containers (they carry its worker-id label). A worker that began as a standby has no such
 * label itself: it is looked for among all worker containers, by its name, only then.
 */
export async function containersOfWorker(
  docker: Docker,
  workerId: string,
): Promise<{ worker: Docker.ContainerInfo | undefined; all: Docker.ContainerInfo[] }> {
  const labelled = await docker.listContainers({
    all: true,
    filters: { label: [`${WHARF_LABELS.workerId}=${workerId}`] },
  });
  const worker =
    labelled.find((c) => c.Labels[WHARF_LABELS.component] === WORKER_COMPONENT) ??
    (await listWorkerContainers(docker)).find((w) => w.identity.workerId === workerId)?.c;
  const steps = labelled.filter((c) => c.Id !== worker?.Id);
  return { worker, all: worker ? [worker, ...steps] : steps };
}
