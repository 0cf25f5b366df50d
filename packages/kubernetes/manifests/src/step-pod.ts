import type {
  V1Affinity,
  V1Container,
  V1EnvFromSource,
  V1EnvVar,
  V1OwnerReference,
  V1PersistentVolumeClaim,
  V1Pod,
  V1ResourceRequirements,
  V1Toleration,
  V1Volume,
  V1VolumeMount,
} from "@kubernetes/client-node";
import { labelSet, namePrefix } from "./labels.js";
import {
  captureStepOutput,
  STEP_OUTPUT_PATH,
  STEP_OUTPUT_SUBPATH,
  WORKSPACE_SUBPATH,
} from "./step-output.js";
import { type StepRun, WORKSPACE_PATH } from "./step-run.js";
import { secretKeyEnv } from "./worker-secret.js";

/** The pod every step pod belongs to (the worker's own pod), from the downward API. */
export interface PodOwner {
  name: string;
  uid: string;
}

/** Where and how a build's pods are placed; all optional. */
export interface PodPlacement {
  resources?: V1ResourceRequirements;
  nodeSelector?: Record<string, string>;
  tolerations?: V1Toleration[];
}

export interface StepPodInput extends PodPlacement {
  buildRef: string;
  stepId: number;
  labels: Record<string, string>;
  /** The step's whole environment (build env with the step's on top). */
  env: Record<string, string>;
  run: StepRun;
  workspaceClaim: string;
  /** Names the files the step's output is captured in (see step-output.ts). */
  outputKey: string;
  /**
   * The node holding the workspace claim (the workspace pod's). A ReadWriteOnce claim can be
   * attached to one node at a time, so the step pods must run there too.
   */
  workspaceNode?: string;
  owner?: PodOwner;
  /** ConfigMap with CA certificates, for `certificatesMountPath`. */
  certificatesConfigMap: string;
}

export const STEP_CONTAINER = "step";
const WORKSPACE_VOLUME = "workspace";
const CERTIFICATES_VOLUME = "certificates";

/** Deleting the owner (the worker pod) makes the garbage collector delete this object too. */
export function ownerReferences(owner: PodOwner | undefined): V1OwnerReference[] | undefined {
  if (!owner) return undefined;
  return [{ apiVersion: "v1", kind: "Pod", name: owner.name, uid: owner.uid, blockOwnerDeletion: false }];
}

/** Env vars in a stable order, so the same step gives the same pod spec. */
export function envVars(env: Record<string, string>): V1EnvVar[] {
  return Object.keys(env)
    .sort()
    .map((name) => ({ name, value: env[name] }));
}

export function envFromSecrets(secrets: string[]): V1EnvFromSource[] | undefined {
  return secrets.length ? secrets.map((name) => ({ secretRef: { name } })) : undefined;
}

function secretVolumeName(index: number): string {
  return `secret-${index}`;
}

function configMapVolumeName(index: number): string {
  return `config-${index}`;
}

export function workspaceVolume(claimName: string): V1Volume {
  return { name: WORKSPACE_VOLUME, persistentVolumeClaim: { claimName } };
}

/**
 * The claim holds two directories: the workspace the steps share, and the steps' captured
 * output (kept apart so artifacts, `git status` and the like never see it).
 */
export function workspaceMounts(): V1VolumeMount[] {
  return [
    { name: WORKSPACE_VOLUME, mountPath: WORKSPACE_PATH, subPath: WORKSPACE_SUBPATH },
    { name: WORKSPACE_VOLUME, mountPath: STEP_OUTPUT_PATH, subPath: STEP_OUTPUT_SUBPATH },
  ];
}

export function stepVolumes(input: StepPodInput): V1Volume[] {
  const volumes = [workspaceVolume(input.workspaceClaim)];
  input.run.secretMounts.forEach((m, i) => {
    volumes.push({
      name: secretVolumeName(i),
      secret: { secretName: m.secretName, ...(m.items ? { items: m.items } : {}) },
    });
  });
  input.run.configMapMounts.forEach((m, i) => {
    volumes.push({ name: configMapVolumeName(i), configMap: { name: m.configMap } });
  });
  if (input.run.certificatesMountPath) {
    volumes.push({ name: CERTIFICATES_VOLUME, configMap: { name: input.certificatesConfigMap } });
  }
  return volumes;
}

export function stepVolumeMounts(run: StepRun): V1VolumeMount[] {
  const mounts = workspaceMounts();
  run.secretMounts.forEach((m, i) => {
    mounts.push({ name: secretVolumeName(i), mountPath: m.mountPath, readOnly: true });
  });
  run.configMapMounts.forEach((m, i) => {
    mounts.push({ name: configMapVolumeName(i), mountPath: m.mountPath, readOnly: true });
  });
  if (run.certificatesMountPath) {
    mounts.push({ name: CERTIFICATES_VOLUME, mountPath: run.certificatesMountPath, readOnly: true });
  }
  return mounts;
}

export function stepContainer(input: StepPodInput): V1Container {
  return {
    name: STEP_CONTAINER,
    image: input.run.image,
    imagePullPolicy: "IfNotPresent",
    command: captureStepOutput(input.run.command, input.outputKey),
    workingDir: WORKSPACE_PATH,
    env: [
      ...envVars({ ...input.env, ...input.run.env }),
      ...input.run.secretKeyEnv.map((e) => secretKeyEnv(e.name, e.secretName, e.key)),
    ],
    envFrom: envFromSecrets(input.run.envFromSecrets),
    volumeMounts: stepVolumeMounts(input.run),
    resources: input.resources,
  };
}

/**
 * Required node affinity on the node's name: still scheduled (resources, taints checked),
 * unlike `spec.nodeName`, which skips the scheduler.
 */
function onNode(node: string): V1Affinity {
  return {
    nodeAffinity: {
      requiredDuringSchedulingIgnoredDuringExecution: {
        nodeSelectorTerms: [{ matchFields: [{ key: "metadata.name", operator: "In", values: [node] }] }],
      },
    },
  };
}

/** The pod of one step: one container, the workspace claim, restartPolicy Never. */
export function stepPod(input: StepPodInput): V1Pod {
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: {
      generateName: namePrefix("wharf-step", input.buildRef, String(input.stepId)),
      labels: labelSet(input.labels),
      ownerReferences: ownerReferences(input.owner),
    },
    spec: {
      restartPolicy: "Never",
      // A step's environment is the build's: no Docker-link variables of the namespace's Services.
      enableServiceLinks: false,
      serviceAccountName: input.run.serviceAccount,
      automountServiceAccountToken: input.run.serviceAccount !== undefined,
      containers: [stepContainer(input)],
      volumes: stepVolumes(input),
      nodeSelector: input.nodeSelector,
      tolerations: input.tolerations,
      affinity: input.workspaceNode ? onNode(input.workspaceNode) : undefined,
      terminationGracePeriodSeconds: 10,
    },
  };
}

export interface WorkspaceInput extends PodPlacement {
  buildRef: string;
  labels: Record<string, string>;
  owner?: PodOwner;
  claimName: string;
  image: string;
}

export const WORKSPACE_CONTAINER = "workspace";

/**
 * A pod that holds the workspace claim for the whole build, so the worker can copy the
 * repository in and artifacts out through `pods/exec` (tar), like `kubectl cp`.
 */
export function workspacePod(input: WorkspaceInput): V1Pod {
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: {
      generateName: namePrefix("wharf-ws", input.buildRef),
      labels: labelSet(input.labels),
      ownerReferences: ownerReferences(input.owner),
    },
    spec: {
      restartPolicy: "Never",
      enableServiceLinks: false,
      automountServiceAccountToken: false,
      containers: [
        {
          name: WORKSPACE_CONTAINER,
          image: input.image,
          imagePullPolicy: "IfNotPresent",
          // Sleeps in short steps so SIGTERM ends it at once.
          command: ["/bin/sh", "-c", "trap 'exit 0' TERM INT; while true; do sleep 1; done"],
          workingDir: WORKSPACE_PATH,
          volumeMounts: workspaceMounts(),
          resources: input.resources,
        },
      ],
      volumes: [workspaceVolume(input.claimName)],
      nodeSelector: input.nodeSelector,
      tolerations: input.tolerations,
      terminationGracePeriodSeconds: 5,
    },
  };
}

export interface ClaimInput {
  buildRef: string;
  labels: Record<string, string>;
  owner?: PodOwner;
  size: string;
  storageClassName?: string;
  accessModes?: string[];
}

/** The build's workspace claim. */
export function workspaceClaim(input: ClaimInput): V1PersistentVolumeClaim {
  return {
    apiVersion: "v1",
    kind: "PersistentVolumeClaim",
    metadata: {
      generateName: namePrefix("wharf-ws", input.buildRef),
      labels: labelSet(input.labels),
      ownerReferences: ownerReferences(input.owner),
    },
    spec: {
      accessModes: input.accessModes ?? ["ReadWriteOnce"],
      storageClassName: input.storageClassName,
      resources: { requests: { storage: input.size } },
    },
  };
}
