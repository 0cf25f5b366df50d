import fs from "node:fs/promises";
import type { KubeObject, ObjectStore } from "./object-store.js";
import { pvcHostDir } from "./pod-sandbox.js";

/**
 * Which StorageClasses the fake cluster has, as a real one's PersistentVolume controller and
 * DefaultStorageClass admission plugin see them.
 */
export interface FakeStorageOptions {
  /**
   * The StorageClass marked default: the API server writes it into a claim created without
   * `storageClassName`. `null`: the cluster has no default (a bare claim stays Pending, as
   * on a cluster without a provisioner). Default "standard".
   */
  defaultStorageClass?: string | null;
  /**
   * The StorageClasses that exist and provision at once; a claim naming another one stays
   * Pending with a ProvisioningFailed warning. Default: any class name provisions.
   */
  storageClasses?: string[];
  /**
   * How long the provisioner takes to bind a claim of an existing class: meanwhile the claim
   * is Pending with an `ExternalProvisioning` event (type Normal), as with a slow external
   * provisioner. Default 0: bound when created.
   */
  provisionDelayMs?: number;
}

const now = () => new Date().toISOString().replace(/\.\d+Z$/, "Z");

/** An Event about a claim, as the persistentvolume-controller records it. */
function claimEvent(store: ObjectStore, claim: KubeObject, type: string, reason: string, message: string) {
  const ns = claim.metadata.namespace!;
  store.create("events", ns, {
    apiVersion: "v1",
    kind: "Event",
    metadata: { generateName: `${claim.metadata.name}.` },
    involvedObject: {
      kind: "PersistentVolumeClaim",
      namespace: ns,
      name: claim.metadata.name,
      uid: claim.metadata.uid,
      apiVersion: "v1",
    },
    type,
    reason,
    message,
    source: { component: "persistentvolume-controller" },
    firstTimestamp: now(),
    lastTimestamp: now(),
    count: 1,
  });
}

/** The DefaultStorageClass admission plugin: a claim without a class gets the default one. */
export function admitClaim(body: KubeObject, options: FakeStorageOptions): void {
  const defaultClass = options.defaultStorageClass === undefined ? "standard" : options.defaultStorageClass;
  if (defaultClass && body.spec && body.spec.storageClassName === undefined) {
    body.spec.storageClassName = defaultClass;
  }
}

/**
 * The PersistentVolume controller for a new claim: one of an existing class is provisioned
 * (a host directory) and bound at once; any other stays Pending with the event a v1.20
 * controller records: `FailedBinding` (type Normal) for a claim without a class, a Warning
 * `ProvisioningFailed` for a class that does not exist.
 */
export async function provisionClaim(
  store: ObjectStore,
  rootDir: string,
  claim: KubeObject,
  options: FakeStorageOptions,
): Promise<KubeObject> {
  const ns = claim.metadata.namespace!;
  const name = claim.metadata.name!;
  const cls: string | undefined = claim.spec?.storageClassName || undefined;
  const pending = (status: object) =>
    store.update("persistentvolumeclaims", ns, name, (o) => {
      o.status = { phase: "Pending", ...status };
    });
  if (!cls) {
    const claimed = pending({});
    claimEvent(
      store,
      claimed,
      "Normal",
      "FailedBinding",
      "no persistent volumes available for this claim and no storage class is set",
    );
    return claimed;
  }
  if (options.storageClasses && !options.storageClasses.includes(cls)) {
    const claimed = pending({});
    claimEvent(
      store,
      claimed,
      "Warning",
      "ProvisioningFailed",
      `storageclass.storage.k8s.io "${cls}" not found`,
    );
    return claimed;
  }
  const bind = async () => {
    await fs.mkdir(pvcHostDir(rootDir, claim), { recursive: true });
    return store.update("persistentvolumeclaims", ns, name, (o) => {
      o.spec.volumeName = `pvc-${o.metadata.uid}`;
      o.status = {
        phase: "Bound",
        accessModes: o.spec?.accessModes,
        capacity: o.spec?.resources?.requests,
      };
    });
  };
  if (!options.provisionDelayMs) return bind();
  const claimed = pending({});
  claimEvent(
    store,
    claimed,
    "Normal",
    "ExternalProvisioning",
    `waiting for a volume to be created, either by external provisioner "fake.wharf/${cls}" or manually created by system administrator`,
  );
  setTimeout(() => {
    const current = store.get("persistentvolumeclaims", ns, name);
    if (current?.metadata.uid === claim.metadata.uid) void bind().catch(() => {});
  }, options.provisionDelayMs).unref();
  return claimed;
}
