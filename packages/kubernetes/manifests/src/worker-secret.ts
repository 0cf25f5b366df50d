import type { V1EnvVar, V1Secret } from "@kubernetes/client-node";

/**
 * A worker pod's credentials, kept out of its spec (anyone who may read pods would see them,
 * and etcd would store them with the pod): one Secret per worker, created just before the
 * pod and then owned by it, so it goes with the pod. Each container reads only its own key:
 * the clone container the git token, the worker container its gRPC bearer token.
 */
export const WORKER_SECRET_KEYS = { gitToken: "git-token", workerToken: "worker-token" } as const;

/** Names of the workers' Secrets start so; no step may use such a Secret (another build's tokens). */
export const WORKER_SECRET_PREFIX = "wharf-worker-secret-";

/** What a worker's Secret holds; both optional (a build without a token, a deployment without auth). */
export interface WorkerCredentials {
  gitToken?: string;
  workerToken?: string;
}

/** Which keys a worker pod reads from its Secret (the values stay out of the pod). */
export interface WorkerSecretRef {
  name: string;
  gitToken: boolean;
  workerToken: boolean;
}

/** The Secret's name: known before the pod exists, so the pod can refer to it. */
export function workerSecretName(workerId: string): string {
  return `${WORKER_SECRET_PREFIX}${workerId}`
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, "-")
    .slice(0, 253);
}

export function workerSecret(input: {
  workerId: string;
  credentials: WorkerCredentials;
  labels: Record<string, string>;
}): V1Secret {
  const { gitToken, workerToken } = input.credentials;
  return {
    apiVersion: "v1",
    kind: "Secret",
    metadata: { name: workerSecretName(input.workerId), labels: input.labels },
    type: "Opaque",
    stringData: {
      ...(gitToken ? { [WORKER_SECRET_KEYS.gitToken]: gitToken } : {}),
      ...(workerToken ? { [WORKER_SECRET_KEYS.workerToken]: workerToken } : {}),
    },
  };
}

export function workerSecretRef(
  workerId: string,
  credentials: WorkerCredentials,
): WorkerSecretRef | undefined {
  const gitToken = Boolean(credentials.gitToken);
  const workerToken = Boolean(credentials.workerToken);
  return gitToken || workerToken ? { name: workerSecretName(workerId), gitToken, workerToken } : undefined;
}

/** An env var read from one key of the worker's Secret. */
export function secretKeyEnv(name: string, secret: string, key: string): V1EnvVar {
  return { name, valueFrom: { secretKeyRef: { name: secret, key } } };
}
