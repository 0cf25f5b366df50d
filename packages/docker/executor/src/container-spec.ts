import { randomBytes } from "node:crypto";
import type { ContainerSpec, PlanStep } from "@wharf/executor";
import { type BuildSpec, buildLabels, resourceName, stepLabels, stepScript } from "@wharf/executor";
import type Docker from "dockerode";

/**
 * Pure builders of what the executor asks the engine to create; kept apart from the API
 * calls so they can be checked without an engine.
 */

/**
 * The `networkMode` setting that gives each build its own network (the default): a
 * user-defined bridge network created by `setupBuild`, joined by all steps of the build and
 * removed with it. Any other value is used as is: "none", "host", or an existing network's name.
 */
export const BUILD_NETWORK = "build";

/** What a gated step container is told on its stdin once its workspace is filled. */
export const GO_LINE = "go\n";

/**
 * The shells a step's script can be gated in (`read` is POSIX): by the shell's base name, a
 * step of another shell starts once its workspace is filled.
 */
const GATEABLE_SHELLS = new Set(["sh", "bash", "ash", "dash", "zsh", "ksh", "mksh"]);

export function isGateableShell(shell: string): boolean {
  return GATEABLE_SHELLS.has(shell.slice(shell.lastIndexOf("/") + 1));
}

/**
 * The step's script, first waiting for GO_LINE on stdin: the container starts (network and
 * all, ~0.3 s) while the worker still fills its workspace, and its commands run once that is
 * done. Stdin ending without the line (the worker went away) ends the step (exit 125) before
 * any command. On the script's first line, so the shell's line numbers stay the commands'.
 */
export function gatedScript(script: string): string {
  return `read -r wharf_go || exit 125; unset wharf_go; ${script}`;
}

export interface StepContainerSettings {
  /** The engine's network mode of the container: "none", "host", or a network's name. */
  network: string;
  /** Whether `network` is the build's own network, on which the step gets its name as a DNS alias. */
  buildNetwork: boolean;
  init: boolean;
  workspacePath: string;
  /** The script waits for GO_LINE on its stdin (see gatedScript); only for isGateableShell. */
  gated?: boolean;
}

/** The build's workspace volume; one per build ref. */
export function volumeName(buildRef: string): string {
  return `wharf-${resourceName(buildRef)}-workspace`;
}

/** The build's own network, under the `build` network setting; one per build ref. */
export function networkName(buildRef: string): string {
  return `wharf-${resourceName(buildRef)}-network`;
}

/** The network mode of a build's containers and image builds under the `networkMode` setting. */
export function buildNetworkMode(setting: string, buildRef: string): string {
  return setting === BUILD_NETWORK ? networkName(buildRef) : setting;
}

/** A user-defined bridge: its containers resolve each other's names and aliases, and the engine's own network stays untouched. */
export function networkCreateOptions(build: Omit<BuildSpec, "sourceDir">): Docker.NetworkCreateOptions {
  return {
    Name: networkName(build.buildRef),
    Driver: "bridge",
    CheckDuplicate: true,
    Labels: buildLabels(build),
  };
}

/**
 * The step's name as a DNS label ("Run DB" → "run-db"), by which the other steps of the build
 * reach it on the build's network; undefined when nothing of the name is left.
 */
export function stepAlias(stepName: string): string | undefined {
  const label = stepName
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, "-")
    .slice(0, 63)
    .replace(/^-+|-+$/g, "");
  return label === "" ? undefined : label;
}

/** The never-started container through which the workspace volume is filled and read. */
export function helperContainerName(buildRef: string): string {
  return `wharf-${resourceName(buildRef)}-workspace-helper`;
}

/** Unique per attempt, so a retried step never collides with a container not yet removed. */
export function stepContainerName(buildRef: string, stepId: number): string {
  return `wharf-${resourceName(buildRef)}-step${stepId}-${randomBytes(3).toString("hex")}`;
}

export function volumeCreateOptions(build: Omit<BuildSpec, "sourceDir">): Docker.VolumeCreateOptions {
  return { Name: volumeName(build.buildRef), Labels: buildLabels(build) };
}

export function helperContainerOptions(
  build: Omit<BuildSpec, "sourceDir">,
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
  const alias = stepAlias(step.name);
  return {
    name: stepContainerName(build.buildRef, step.id),
    Image: step.spec.image,
    Entrypoint: [
      step.spec.shell,
      "-c",
      settings.gated ? gatedScript(stepScript(step.spec.cmds)) : stepScript(step.spec.cmds),
    ],
    Cmd: [],
    WorkingDir: settings.workspacePath,
    Env: Object.entries({ ...build.env, ...env }).map(([k, v]) => `${k}=${v}`),
    Labels: stepLabels(build, step),
    Tty: false,
    OpenStdin: settings.gated === true,
    StdinOnce: settings.gated === true,
    AttachStdin: settings.gated === true,
    AttachStdout: true,
    AttachStderr: true,
    HostConfig: {
      NetworkMode: settings.network,
      Init: settings.init,
      Mounts: [{ Type: "volume", Source: volumeName(build.buildRef), Target: settings.workspacePath }],
    },
    ...(settings.buildNetwork && alias
      ? { NetworkingConfig: { EndpointsConfig: { [settings.network]: { Aliases: [alias] } } } }
      : {}),
  };
}

/**
 * Label filter for list calls: every key=value must match. Podman's Docker API ORs several
 * label filters of a volume list (4.3 lists a volume carrying any one of them), so callers
 * listing volumes check the result with `hasLabels` too.
 */
export function labelFilter(labels: Record<string, string>): string {
  return JSON.stringify({ label: Object.entries(labels).map(([k, v]) => `${k}=${v}`) });
}

/** True when `labels` carry every key=value of `wanted` (see labelFilter). */
export function hasLabels(
  labels: Record<string, string> | null | undefined,
  wanted: Record<string, string>,
): boolean {
  return Object.entries(wanted).every(([k, v]) => labels?.[k] === v);
}
