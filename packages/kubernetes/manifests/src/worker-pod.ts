import type { V1Container, V1EnvVar, V1Pod, V1Volume, V1VolumeMount } from "@kubernetes/client-node";
import { type BuildId, formatBuildId } from "@wharf/proto/build-id";
import { WHARF_LABELS } from "@wharf/proto/labels";
import { toWorkerEnv, WORKER_ENV, WORKER_POD_ENV, WORKER_SECRET_ENV } from "@wharf/proto/worker-env";
import { labelSet, namePrefix } from "./labels.js";
import type { PodPlacement } from "./step-pod.js";
import { envVars } from "./step-pod.js";
import { secretKeyEnv, WORKER_SECRET_KEYS, type WorkerSecretRef } from "./worker-secret.js";

/** Labels every worker pod carries; the provisioner lists and the aggregator watches by them. */
export const WORKER_POD_LABELS = {
  name: "app.kubernetes.io/name",
  managedBy: "app.kubernetes.io/managed-by",
  instance: WHARF_LABELS.instance,
  buildId: WHARF_LABELS.buildId,
  projectId: WHARF_LABELS.projectId,
  workerId: WHARF_LABELS.workerId,
  grpcPort: WHARF_LABELS.grpcPort,
} as const;

export const WORKER_APP_NAME = "wharf-cmd-worker";
export const WORKER_MANAGED_BY = "wharf-cmd-provisioner";
/** `app.kubernetes.io/name=wharf-cmd-worker`: the selector of all worker pods. */
export const WORKER_POD_SELECTOR = `${WORKER_POD_LABELS.name}=${WORKER_APP_NAME}`;

/**
 * The worker and its clone need no privilege: no escalation (setuid), no capability. (Step pods
 * run users' images, which may need root: their security is the images' and the cluster's.)
 */
const CONTAINER_SECURITY = { allowPrivilegeEscalation: false, capabilities: { drop: ["ALL"] } };

export const WORKER_CONTAINER = "worker";
export const CLONE_CONTAINER = "git-clone";
/** Where the init container clones the repository; the worker reads it as WHARF_SOURCE_DIR. */
export const WORKER_SOURCE_DIR = "/wharf/source/repo";
export const WORKER_DATA_DIR = "/wharf/data";
const SOURCE_MOUNT = "/wharf/source";
const SSH_MOUNT = "/wharf/git-ssh";

/** The repository to clone; a token is read from the worker's Secret (see `secret`). */
export interface WorkerGitSource {
  url: string;
  branch?: string;
  /**
   * Secret with an SSH private key (key `ssh-privatekey`, as in `kubernetes.io/ssh-auth`
   * secrets) and optionally `known_hosts`; without known_hosts the host key is accepted
   * on first use.
   */
  sshKeySecret?: string;
}

export interface WorkerPodInput extends PodPlacement {
  workerId: string;
  buildId: BuildId;
  instance: string;
  /** "" when the build has no project. */
  projectId: string;
  /** Image with node, git and the wharf worker. */
  image: string;
  /** Worker argv; default the image's own entrypoint/CMD (deploy/docker: `worker serve`). */
  command?: string[];
  /** Image of the clone init container (needs sh, git, base64; ssh for SSH remotes). Default: `image`. */
  cloneImage?: string;
  git: WorkerGitSource;
  /**
   * The worker's Secret (worker-secret.ts): the git token for the clone container only,
   * the gRPC token for the worker only. The credentials in `env` (WORKER_SECRET_ENV) are never
   * put in the spec.
   */
  secret?: WorkerSecretRef;
  /** The worker's env (@wharf/proto/worker-env's `toWorkerEnv`: the build, WHARF_EXECUTOR, ...). */
  env: Record<string, string>;
  grpcPort: number;
  httpPort: number;
  namespace?: string;
  serviceAccountName?: string;
  /** UID the containers run as (non-root). Default 1000, the `node` user of the worker image. */
  runAsUser?: number;
  imagePullPolicy?: "Always" | "IfNotPresent" | "Never";
  /**
   * SIGTERM to SIGKILL, also when the pod is evicted or its node drained (not deleted by
   * the provisioner): the worker's wait for Release (WHARF_RELEASE_GRACE) must fit in it,
   * so the build's last lines and status still reach wharf-api. Default 30.
   */
  terminationGracePeriodSeconds?: number;
}

/**
 * Clones GIT_FULLURL (GIT_BRANCH) shallowly into the shared source volume. A token is
 * sent as an HTTP header like the worker's own checkout, never written into the URL, and
 * given to git in its environment (GIT_CONFIG_*, git ≥ 2.31), not on its command line;
 * an SSH key is copied to a private file because ssh refuses group-readable keys.
 */
export const CLONE_SCRIPT = `set -eu
dest=${WORKER_SOURCE_DIR}
set -- -c credential.helper=
if [ -n "\${GIT_TOKEN:-}" ]; then
  auth=$(printf 'oauth2:%s' "$GIT_TOKEN" | base64 | tr -d '\\n')
  export GIT_CONFIG_COUNT=1 GIT_CONFIG_KEY_0=http.extraHeader GIT_CONFIG_VALUE_0="Authorization: Basic $auth"
fi
if [ -f ${SSH_MOUNT}/ssh-privatekey ]; then
  key=$(mktemp)
  cp ${SSH_MOUNT}/ssh-privatekey "$key"
  chmod 600 "$key"
  if [ -f ${SSH_MOUNT}/known_hosts ]; then
    hosts="-o StrictHostKeyChecking=yes -o UserKnownHostsFile=${SSH_MOUNT}/known_hosts"
  else
    hosts="-o StrictHostKeyChecking=accept-new -o UserKnownHostsFile=$key.known_hosts"
  fi
  export GIT_SSH_COMMAND="ssh -i $key -o IdentitiesOnly=yes $hosts"
fi
set -- "$@" clone --depth 1 --no-tags
if [ -n "\${GIT_BRANCH:-}" ]; then set -- "$@" --branch "$GIT_BRANCH"; fi
git "$@" -- "$GIT_FULLURL" "$dest"
echo "cloned into $dest"
`;

/** The kubelet's default; the worker writes its WorkerExitReport (@wharf/proto) there. */
const WORKER_TERMINATION_MESSAGE_PATH = "/dev/termination-log";

/** The contract's labels plus the app labels; values made label-safe. */
export function workerPodLabels(input: WorkerPodInput): Record<string, string> {
  return labelSet({
    [WORKER_POD_LABELS.name]: WORKER_APP_NAME,
    [WORKER_POD_LABELS.managedBy]: WORKER_MANAGED_BY,
    [WORKER_POD_LABELS.instance]: input.instance,
    [WORKER_POD_LABELS.buildId]: formatBuildId(input.buildId),
    [WORKER_POD_LABELS.projectId]: input.projectId,
    [WORKER_POD_LABELS.workerId]: input.workerId,
    [WORKER_POD_LABELS.grpcPort]: String(input.grpcPort),
  });
}

const fieldEnv = (name: string, fieldPath: string): V1EnvVar => ({
  name,
  valueFrom: { fieldRef: { fieldPath } },
});

function workerVolumes(input: WorkerPodInput): V1Volume[] {
  const volumes: V1Volume[] = [
    { name: "source", emptyDir: {} },
    { name: "data", emptyDir: {} },
  ];
  if (input.git.sshKeySecret) {
    volumes.push({ name: "git-ssh", secret: { secretName: input.git.sshKeySecret, defaultMode: 0o400 } });
  }
  return volumes;
}

export function cloneContainer(input: WorkerPodInput): V1Container {
  // The clone script reads the worker contract's names for the repository and its token.
  const env: Record<string, string> = { [WORKER_ENV.gitUrl]: input.git.url };
  if (input.git.branch) env[WORKER_ENV.gitBranch] = input.git.branch;
  const mounts: V1VolumeMount[] = [{ name: "source", mountPath: SOURCE_MOUNT }];
  if (input.git.sshKeySecret) mounts.push({ name: "git-ssh", mountPath: SSH_MOUNT, readOnly: true });
  return {
    name: CLONE_CONTAINER,
    image: input.cloneImage ?? input.image,
    imagePullPolicy: input.imagePullPolicy ?? "IfNotPresent",
    command: ["/bin/sh", "-c", CLONE_SCRIPT],
    env: [
      ...envVars(env),
      { name: "GIT_TERMINAL_PROMPT", value: "0" },
      ...(input.secret?.gitToken
        ? [secretKeyEnv(WORKER_ENV.gitToken, input.secret.name, WORKER_SECRET_KEYS.gitToken)]
        : []),
    ],
    volumeMounts: mounts,
    resources: input.resources,
    securityContext: CONTAINER_SECURITY,
  };
}

/** The worker's env without its credentials, which only the pod's Secret holds (worker-secret.ts). */
function withoutSecrets(env: Record<string, string>): Record<string, string> {
  const secret = new Set<string>(WORKER_SECRET_ENV);
  return Object.fromEntries(Object.entries(env).filter(([k]) => !secret.has(k)));
}

export function workerContainer(input: WorkerPodInput): V1Container {
  const env: Record<string, string> = {
    ...withoutSecrets(input.env),
    ...toWorkerEnv({
      buildId: input.buildId,
      sourceDir: WORKER_SOURCE_DIR,
      dataDir: WORKER_DATA_DIR,
      host: "0.0.0.0",
      port: input.grpcPort,
      httpPort: input.httpPort,
      // The build's result, for the provisioner once the released worker has exited.
      terminationMessagePath: WORKER_TERMINATION_MESSAGE_PATH,
    }),
  };
  return {
    name: WORKER_CONTAINER,
    image: input.image,
    imagePullPolicy: input.imagePullPolicy ?? "IfNotPresent",
    ...(input.command ? { command: input.command } : {}),
    env: [
      ...envVars(env),
      // The kubernetes executor owns its step pods by this pod, so deleting the worker removes them.
      fieldEnv(WORKER_POD_ENV.podName, "metadata.name"),
      fieldEnv(WORKER_POD_ENV.podUid, "metadata.uid"),
      fieldEnv(WORKER_POD_ENV.namespace, "metadata.namespace"),
      ...(input.secret?.workerToken
        ? [secretKeyEnv(WORKER_ENV.workerToken, input.secret.name, WORKER_SECRET_KEYS.workerToken)]
        : []),
    ],
    ports: [
      { name: "grpc", containerPort: input.grpcPort, protocol: "TCP" },
      { name: "http", containerPort: input.httpPort, protocol: "TCP" },
    ],
    readinessProbe: { httpGet: { path: "/healthz", port: "http" }, periodSeconds: 5 },
    terminationMessagePath: WORKER_TERMINATION_MESSAGE_PATH,
    terminationMessagePolicy: "File",
    volumeMounts: [
      { name: "source", mountPath: SOURCE_MOUNT },
      { name: "data", mountPath: WORKER_DATA_DIR },
    ],
    resources: input.resources,
    securityContext: CONTAINER_SECURITY,
  };
}

/**
 * The pod of one build's worker: an init container clones the repository into an
 * emptyDir, the worker serves the build over gRPC until released. restartPolicy Never:
 * a worker that crashed must show up as Failed, not run the build twice.
 */
export function workerPod(input: WorkerPodInput): V1Pod {
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: {
      generateName: namePrefix("wharf-worker", formatBuildId(input.buildId)),
      ...(input.namespace ? { namespace: input.namespace } : {}),
      labels: workerPodLabels(input),
    },
    spec: {
      restartPolicy: "Never",
      // Services of the namespace would inject Docker-link variables (WHARF_WORKER_PORT=tcp://…
      // for a Service named wharf-worker), which the worker would read as its settings.
      enableServiceLinks: false,
      serviceAccountName: input.serviceAccountName,
      // Only the kubernetes executor talks to the API server; its service account says so.
      automountServiceAccountToken: input.serviceAccountName !== undefined,
      securityContext: {
        runAsNonRoot: true,
        runAsUser: input.runAsUser ?? 1000,
        seccompProfile: { type: "RuntimeDefault" },
      },
      initContainers: [cloneContainer(input)],
      containers: [workerContainer(input)],
      volumes: workerVolumes(input),
      nodeSelector: input.nodeSelector,
      tolerations: input.tolerations,
      terminationGracePeriodSeconds: input.terminationGracePeriodSeconds ?? 30,
    },
  };
}
