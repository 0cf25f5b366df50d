import { type CoreV1Api, PatchStrategy, setHeaderOptions } from "@kubernetes/client-node";
import {
  apiMessage,
  isNotFound,
  WORKER_MANAGED_BY,
  WORKER_POD_LABELS,
  type WorkerCredentials,
  workerSecret,
  workerSecretName,
} from "@wharf/kube-manifests";
import { BackendError } from "@wharf/provisioner";

/**
 * A worker pod's credentials (git token, gRPC token) in a Secret of its own instead of the
 * pod spec (see kube-manifests' worker-secret.ts). Created before the pod, then owned by it,
 * so the garbage collector deletes it with the pod whatever ends the worker. Messages name
 * the Secret, never a value.
 */
export class WorkerSecrets {
  constructor(
    private readonly api: CoreV1Api,
    private readonly namespace: string,
  ) {}

  async create(workerId: string, credentials: WorkerCredentials): Promise<void> {
    try {
      await this.createOnce(workerId, credentials);
    } catch (err) {
      // Left by an attempt for the same worker that did not get to hand it to a pod (the
      // provisioner stopped in between): it is this worker's, so it is replaced.
      if ((err as { code?: number })?.code !== 409) throw this.failure(workerId, err);
      try {
        await this.delete(workerId);
        await this.createOnce(workerId, credentials);
      } catch (again) {
        throw this.failure(workerId, again);
      }
    }
  }

  private failure(workerId: string, err: unknown): BackendError {
    return new BackendError(
      `could not create the worker's Secret ${workerSecretName(workerId)}: ${apiMessage(err)}`,
      { cause: err },
    );
  }

  private async createOnce(workerId: string, credentials: WorkerCredentials): Promise<void> {
    await this.api.createNamespacedSecret({
      namespace: this.namespace,
      body: workerSecret({
        workerId,
        credentials,
        labels: {
          [WORKER_POD_LABELS.managedBy]: WORKER_MANAGED_BY,
          [WORKER_POD_LABELS.workerId]: workerId,
        },
      }),
    });
  }

  /** Makes the worker pod the Secret's owner (a merge patch of its ownerReferences). */
  async ownBy(workerId: string, pod: { name: string; uid: string }): Promise<void> {
    await this.api.patchNamespacedSecret(
      {
        name: workerSecretName(workerId),
        namespace: this.namespace,
        body: {
          metadata: {
            ownerReferences: [
              { apiVersion: "v1", kind: "Pod", name: pod.name, uid: pod.uid, blockOwnerDeletion: false },
            ],
          },
        },
      },
      setHeaderOptions("Content-Type", PatchStrategy.MergePatch),
    );
  }

  async delete(workerId: string): Promise<void> {
    await this.api
      .deleteNamespacedSecret({ name: workerSecretName(workerId), namespace: this.namespace })
      .catch((err) => {
        if (!isNotFound(err)) throw err;
      });
  }
}
