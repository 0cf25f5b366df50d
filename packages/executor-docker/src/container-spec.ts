import { randomBytes } from "node:crypto";
import { type BuildSpec, buildLabels, resourceName, stepLabels, stepScript } from "@wharf/executor";
import type { ContainerSpec, PlanStep } from "@wharf/wharfyml";
import type Docker from "dockerode";

/**
 * Pure builders of what the executor asks the engine to create; kept apart from the API
 * calls so they can be checked without an engine.
 */

export interface StepContainerSettings {
  networkMode: string;
  init: boolean;
  workspacePath: string;
}

/** The build's workspace volume; one per build ref. */
export function volumeName(buildRef: string): string {
  return `wharf-${resourceName(buildRef)}-workspace`;
}

/** The never-started container through which the workspace volume is filled and read. */
export function helperContainerName(buildRef: string): string {
  return `wharf-${resourceName(buildRef)}-workspace-helper`;
}

/** Unique per attempt, so a retried step never collides with a container not yet removed. */
export function stepContainerName(buildRef: string, stepId: number): string {
  return `wharf-${resourceName(buildRef)}-step${stepId}-${randomBytes(3).toString("hex")}`;
}

export function volumeCreateOptions(build: BuildSpec): Docker.VolumeCreateOptions {
  return { Name: volumeName(build.buildRef), Labels: buildLabels(build) };
}

export function helperContainerOptions(
  build: BuildSpec,
  image: string,
  workspacePath: string,
): Docker.ContainerCreateOptions {
  return {
    name: helperContainerName(build.buildRef),
    Image: image,
    // Never started: the engine reads and writes a stopped container's volumes through the archive API.
    Cmd: ["/wharf-helper-is-never-started"],
    Labels: buildLabels(build),
    NetworkDisabled: true,
    HostConfig: {
      NetworkMode: "none",
      Mounts: [{ Type: "volume", Source: volumeName(build.buildRef), Target: workspacePath }],
    },
  };
}

/** A `container` step: `[shell, "-c", script]` replaces the image's entrypoint, as a Kubernetes `command` would. */
export function stepContainerOptions(
  build: BuildSpec,
  step: PlanStep & { spec: ContainerSpec },
  env: Record<string, string>,
  settings: StepContainerSettings,
): Docker.ContainerCreateOptions {
  return {
    name: stepContainerName(build.buildRef, step.id),
    Image: step.spec.image,
    Entrypoint: [step.spec.shell, "-c", stepScript(step.spec.cmds)],
    Cmd: [],
    WorkingDir: settings.workspacePath,
    Env: Object.entries({ ...build.env, ...env }).map(([k, v]) => `${k}=${v}`),
    Labels: stepLabels(build, step),
    Tty: false,
    OpenStdin: false,
    AttachStdin: false,
    AttachStdout: true,
    AttachStderr: true,
    HostConfig: {
      NetworkMode: settings.networkMode,
      Init: settings.init,
      Mounts: [{ Type: "volume", Source: volumeName(build.buildRef), Target: settings.workspacePath }],
    },
  };
}

/** Label filter for list calls: every key=value must match. */
export function labelFilter(labels: Record<string, string>): string {
  return JSON.stringify({ label: Object.entries(labels).map(([k, v]) => `${k}=${v}`) });
}
