import { randomBytes } from "node:crypto";
import { type BuildSpec, buildLabels, resourceName } from "@wharf/executor";
import { WHARF_LABELS } from "@wharf/proto/labels";
import type Docker from "dockerode";

/**
 * Pure builders of the volumes and helpers of step caches on a Docker/Podman engine. A
 * generation is two volumes: `wharf-cache-<generation>` holds the files, and
 * `wharf-cache-<generation>-ready`, created only once they are all written, publishes it and
 * carries its key and size in labels, so listing the ready marks is the whole index.
 */

/** Where a cache volume is mounted in its helper container. */
export const CACHE_MOUNT = "/cache";

export function cacheDataVolume(generation: string): string {
  return `wharf-cache-${generation}`;
}

export function cacheReadyVolume(generation: string): string {
  return `${cacheDataVolume(generation)}-ready`;
}

export interface CacheVolumeFacts {
  key: string;
  generation: string;
  project: string;
}

export function cacheDataVolumeOptions(facts: CacheVolumeFacts): Docker.VolumeCreateOptions {
  return {
    Name: cacheDataVolume(facts.generation),
    Labels: {
      [WHARF_LABELS.cacheKey]: facts.key,
      [WHARF_LABELS.cacheGeneration]: facts.generation,
      [WHARF_LABELS.cacheRole]: "data",
      [WHARF_LABELS.projectId]: facts.project,
    },
  };
}

export function cacheReadyVolumeOptions(facts: CacheVolumeFacts, bytes: number): Docker.VolumeCreateOptions {
  return {
    Name: cacheReadyVolume(facts.generation),
    Labels: {
      [WHARF_LABELS.cacheKey]: facts.key,
      [WHARF_LABELS.cacheGeneration]: facts.generation,
      [WHARF_LABELS.cacheRole]: "ready",
      [WHARF_LABELS.cacheBytes]: String(bytes),
      [WHARF_LABELS.projectId]: facts.project,
    },
  };
}

/**
 * A never-started container mounting one cache generation, through which it is filled or read.
 * It carries the build's labels, so a crashed build's helpers go with its leftovers; while it
 * exists the engine refuses to remove the volume, which is what keeps a generation whole for
 * a reader even when eviction wants it gone.
 */
export function cacheHelperOptions(
  build: BuildSpec,
  image: string,
  generation: string,
): Docker.ContainerCreateOptions {
  return {
    name: `wharf-${resourceName(build.buildRef)}-cache-${randomBytes(3).toString("hex")}`,
    Image: image,
    Cmd: ["/wharf-helper-is-never-started"],
    Labels: buildLabels(build),
    NetworkDisabled: true,
    HostConfig: {
      NetworkMode: "none",
      Mounts: [{ Type: "volume", Source: cacheDataVolume(generation), Target: CACHE_MOUNT }],
    },
  };
}

/** A published generation, from its ready mark's labels; null for a volume that is not one. */
export function readyMark(labels: Record<string, string> | null | undefined) {
  const key = labels?.[WHARF_LABELS.cacheKey];
  const generation = labels?.[WHARF_LABELS.cacheGeneration];
  if (!key || !generation || labels?.[WHARF_LABELS.cacheRole] !== "ready") return null;
  return { key, generation, bytes: Number(labels[WHARF_LABELS.cacheBytes] ?? 0) || 0 };
}
