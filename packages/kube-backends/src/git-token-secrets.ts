import { type CoreV1Api, PatchStrategy, setHeaderOptions } from "@kubernetes/client-node";
import {
  apiMessage,
  gitTokenSecretName,
  WORKER_MANAGED_BY,
  WORKER_POD_LABELS,
  workerGitTokenSecret,
} from "@wharf/kube-manifests";
import { BackendError } from "@wharf/provisioner";

const isNotFound = (err: unknown) => (err as { code?: number })?.code === 404;

/**
 * The git token of a worker pod's clone, kept in a Secret of its own instead of the pod spec,
 * where anyone who may read pods (the aggregator's Role, `kubectl describe`) would see it.
 * Created before the pod, then owned by it, so the garbage collector deletes it with the pod
 * whatever ends the worker. Messages name the Secret, never its value.
 */
export class GitTokenSecrets {
  constructor(
    private readonly api: CoreV1Api,
    private readonly namespace: string,
  ) {}

  async create(workerId: string, token: string): Promise<void> {
    try {
      await this.api.createNamespacedSecret({
        namespace: this.namespace,
        body: workerGitTokenSecret({
          workerId,
          token,
          labels: {
            [WORKER_POD_LABELS.managedBy]: WORKER_MANAGED_BY,
            [WORKER_POD_LABELS.workerId]: workerId,
          },
        }),
      });
    } catch (err) {
      throw new BackendError(
        `could not create the git token Secret ${gitTokenSecretName(workerId)}: ${apiMessage(err)}`,
        { cause: err },
      );
    }
  }

  /** Makes the worker pod the Secret's owner (a merge patch of its ownerReferences). */
  async ownBy(workerId: string, pod: { name: string; uid: string }): Promise<void> {
    await this.api.patchNamespacedSecret(
      {
        name: gitTokenSecretName(workerId),
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
      .deleteNamespacedSecret({ name: gitTokenSecretName(workerId), namespace: this.namespace })
      .catch((err) => {
        if (!isNotFound(err)) throw err;
      });
  }
}
