import { CREATED_BY_EXECUTOR, LABEL_CREATED_BY } from "@wharf/executor";
import type Docker from "dockerode";
import { labelFilter } from "./container-spec.js";
import { isAlreadyDone } from "./container-step.js";

/** Containers (ids) and volumes (names) carrying all of some labels. */
export interface Leftovers {
  containers: string[];
  volumes: string[];
}

const VOLUME_IN_USE_RETRIES = 20;

export async function findLeftovers(docker: Docker, labels: Record<string, string>): Promise<Leftovers> {
  if (Object.keys(labels).length === 0)
    throw new Error("refusing to look for leftovers without a label to match");
  // Only what an executor created: never the worker container that shares the build ref.
  const filters = labelFilter({ ...labels, [LABEL_CREATED_BY]: CREATED_BY_EXECUTOR });
  const [containers, volumes] = await Promise.all([
    docker.listContainers({ all: true, filters }),
    docker.listVolumes({ filters }),
  ]);
  return { containers: containers.map((c) => c.Id), volumes: (volumes.Volumes ?? []).map((v) => v.Name) };
}

/**
 * Force-removes the containers, then the volumes, matching `labels`; returns what was found.
 * A volume stays "in use" until the engine finished removing its containers, hence the
 * bounded retry.
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
  for (const name of found.volumes) await removeVolume(docker, name);
  return found;
}

async function removeVolume(docker: Docker, name: string): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await docker.getVolume(name).remove();
      return;
    } catch (err) {
      const code = (err as { statusCode?: number }).statusCode;
      if (code === 404) return;
      if (code !== 409 || attempt >= VOLUME_IN_USE_RETRIES) throw err;
      await new Promise((r) => setTimeout(r, 100 * attempt));
    }
  }
}
