import { runCacheConformance } from "@wharf/executor/testing";
import { DockerExecutor } from "@wharf/executor-docker";
import { WHARF_LABELS } from "@wharf/proto/labels";
import { BUSYBOX_IMAGE, requireDockerOrSkip } from "@wharf/testkit";
import Docker from "dockerode";
import { describe } from "vitest";

// On Docker, and on Podman when DOCKER_HOST names its socket (scripts/test-ci.sh).
const hasDocker = await requireDockerOrSkip();
const docker = new Docker(
  process.env.DOCKER_HOST?.startsWith("unix://")
    ? { socketPath: process.env.DOCKER_HOST.slice(7) }
    : undefined,
);

describe.skipIf(!hasDocker)("docker step caches", () => {
  runCacheConformance({
    name: "docker",
    create: (maxBytes) => new DockerExecutor({ docker, networkMode: "none", cacheMaxBytes: maxBytes }),
    image: BUSYBOX_IMAGE,
    cleanup: async (projects) => {
      for (const project of projects) {
        const filters = JSON.stringify({
          label: [`${WHARF_LABELS.projectId}=${project}`, WHARF_LABELS.cacheRole],
        });
        const { Volumes } = await docker.listVolumes({ filters });
        for (const v of Volumes ?? [])
          await docker
            .getVolume(v.Name)
            .remove()
            .catch(() => {});
      }
    },
  });
});
