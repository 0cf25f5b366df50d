import { CREATED_BY_EXECUTOR, LABEL_CREATED_BY } from "@wharf/executor";
import type Docker from "dockerode";
import { hasLabels, labelFilter } from "./container-spec.js";
import { isAlreadyDone } from "./container-step.js";

/** Containers (ids), volumes and networks (names) carrying all of some labels. */
export interface Leftovers {
  containers: string[];
  volumes: string[];
  /** The build's own networks (network setting `build`); never one the executor did not create. */
  networks: string[];
}

const IN_USE_RETRIES = 20;

export async function findLeftovers(docker: Docker, labels: Record<string, string>): Promise<Leftovers> {
  if (Object.keys(labels).length === 0)
    throw new Error("refusing to look for leftovers without a label to match");
  // Only what an executor created: never the worker container that shares the build ref.
  const wanted = { ...labels, [LABEL_CREATED_BY]: CREATED_BY_EXECUTOR };
  const filters = labelFilter(wanted);
  const [containers, volumes, networks] = await Promise.all([
    docker.listContainers({ all: true, filters }),
    docker.listVolumes({ filters }),
    docker.listNetworks({ filters }),
  ]);
  // Checked here too: Podman ORs the label filters of a volume list, which would hand this
  // build the workspace volumes of every other build running on the engine.
  return {
    containers: containers.filter((c) => hasLabels(c.Labels, wanted)).map((c) => c.Id),
    volumes: (volumes.Volumes ?? []).filter((v) => hasLabels(v.Labels, wanted)).map((v) => v.Name),
    networks: networks.filter((n) => hasLabels(n.Labels, wanted)).map((n) => n.Name),
  };
}

/**
 * Force-removes the containers, then the volumes and networks, matching `labels`; returns
 * what was found. A volume or network stays "in use" until the engine finished removing its
 * containers, hence the bounded retry.
 */
export async function removeLeftovers(docker: Docker, labels: Record<string, string>): Promise<Leftovers> {
  const found = await findLeftovers(docker, labels);
  await Promise.all(
    found.containers.map((id) =>
      docker
        .getContainer(id)
        .remove({ force: true, v: false })
        .catch((err: unknown) => {
          if (!isAlreadyDone(err)) throw err;
        }),
    ),
  );
  for (const name of found.volumes) await removeInUse(() => docker.getVolume(name).remove());
  // A network that still has endpoints: Docker answers 403, Podman 500.
  for (const name of found.networks)
    await removeInUse(() => docker.getNetwork(name).remove(), [403, 409, 500]);
  return found;
}

async function removeInUse(remove: () => Promise<unknown>, inUse: number[] = [409]): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await remove();
      return;
    } catch (err) {
      const code = (err as { statusCode?: number }).statusCode;
      if (code === 404) return;
      if (code === undefined || !inUse.includes(code) || attempt >= IN_USE_RETRIES) throw err;
      await new Promise((r) => setTimeout(r, 100 * attempt));
    }
  }
}
