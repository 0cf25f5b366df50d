import { randomBytes } from "node:crypto";
import path from "node:path";
import type { PlanStep } from "@wharf/executor";
import { type BuildSpec, buildLabels, resourceName, stepLabels, stepScript } from "@wharf/executor";
import {
  type ContainerConfig,
  NamespaceMode,
  type NamespaceOption,
  type PodSandboxConfig,
} from "./cri-client.js";
import type { CriNetwork } from "./settings.js";

/**
 * Pure builders of what the executor asks the runtime to create, apart from the calls so they
 * can be checked without a runtime.
 */

/** Sandbox metadata namespace, so `crictl pods` shows wharf's sandboxes apart from a kubelet's. */
export const SANDBOX_NAMESPACE = "wharf";

export interface SandboxSettings {
  network: CriNetwork;
  /** Host directory of the build's container logs. */
  logDirectory: string;
  /** Labels telling which executor process owns the sandbox (see owner.ts). */
  ownerLabels: Record<string, string>;
}

/** Host directories of one build under the executor's root: the workspace and the runtime's logs. */
export function buildDirs(root: string, buildRef: string): { dir: string; workspace: string; logs: string } {
  const dir = path.join(root, resourceName(buildRef));
  return { dir, workspace: path.join(dir, "workspace"), logs: path.join(dir, "logs") };
}

/**
 * Steps share the sandbox's PID namespace: its pause process is PID 1, so a step's shell is
 * an ordinary process that SIGTERM ends (a shell as PID 1 ignores it and every stop would
 * wait for the SIGKILL), and the runtime kills what the shell left when it exits.
 */
function namespaces(network: CriNetwork): NamespaceOption {
  return {
    network: network === "host" ? NamespaceMode.NODE : NamespaceMode.POD,
    pid: NamespaceMode.POD,
    ipc: NamespaceMode.POD,
  };
}

export function sandboxConfig(build: BuildSpec, settings: SandboxSettings): PodSandboxConfig {
  const name = `wharf-${resourceName(build.buildRef)}`;
  return {
    // A fresh uid per setup: a retried setup of the same build ref never meets the old sandbox's name.
    metadata: {
      name,
      uid: `${name}-${randomBytes(4).toString("hex")}`,
      namespace: SANDBOX_NAMESPACE,
      attempt: 0,
    },
    // On the host network the sandbox keeps the node's hostname (the runtime refuses another).
    hostname: settings.network === "host" ? "" : name.slice(0, 63),
    logDirectory: settings.logDirectory,
    labels: { ...buildLabels(build), ...settings.ownerLabels },
    linux: { securityContext: { namespaceOptions: namespaces(settings.network) } },
  };
}

export interface StepContainerSettings {
  network: CriNetwork;
  workspaceHostPath: string;
  workspacePath: string;
  ownerLabels: Record<string, string>;
}

/** The log file of one attempt of a step, relative to the sandbox's log directory. */
export function stepLogPath(stepId: number): string {
  return `step${stepId}-${randomBytes(3).toString("hex")}.log`;
}

export function stepContainerConfig(
  build: BuildSpec,
  step: PlanStep & { type: "container" },
  env: Record<string, string>,
  settings: StepContainerSettings,
): ContainerConfig {
  return {
    // Unique per attempt, like the log path: a retried step never meets a container not yet removed.
    metadata: { name: `step${step.id}-${randomBytes(3).toString("hex")}`, attempt: 0 },
    image: { image: step.spec.image },
    command: [step.spec.shell, "-c", stepScript(step.spec.cmds)],
    args: [],
    workingDir: settings.workspacePath,
    envs: Object.entries({ ...build.env, ...env }).map(([key, value]) => ({ key, value })),
    mounts: [
      { containerPath: settings.workspacePath, hostPath: settings.workspaceHostPath, readonly: false },
    ],
    labels: { ...stepLabels(build, step), ...settings.ownerLabels },
    logPath: stepLogPath(step.id),
    linux: { securityContext: { namespaceOptions: namespaces(settings.network) } },
  };
}
