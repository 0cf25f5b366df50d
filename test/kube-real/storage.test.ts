import { execFileSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { waitFor } from "@wharf/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ADMIN_KUBECONFIG, BUSYBOX_IMAGE, kubectl } from "./real-cluster.js";

/**
 * The cluster's default StorageClass (scripts/kube/up.sh: kube-controller-manager's in-tree
 * hostPath provisioner): a claim without a class is provisioned and bound, a pod writes to it,
 * and deleting the claim deletes its volume and directory (reclaim Delete). The kubernetes
 * executor's workspace claim names no class unless WHARF_K8S_STORAGE_CLASS is set.
 */
const namespace = `wharf-storage-${Date.now().toString(36)}`;

/** `kubectl create -f -` of one object, as the admin. */
const create = (object: object) =>
  execFileSync(
    process.env.KUBECTL ?? "kubectl",
    ["--kubeconfig", ADMIN_KUBECONFIG, "-n", namespace, "create", "-f", "-"],
    { input: JSON.stringify(object), encoding: "utf8", stdio: ["pipe", "pipe", "pipe"] },
  );
/** A field by jsonpath; "" when the object does not exist. */
const field = (kind: string, name: string, path: string, ns: string[] = ["-n", namespace]) => {
  try {
    return kubectl(...ns, "get", kind, name, "-o", `jsonpath=${path}`);
  } catch {
    return "";
  }
};

describe.skipIf(!ADMIN_KUBECONFIG)("storage on a real cluster (WHARF_KUBE_REAL_KUBECONFIG)", () => {
  beforeAll(() => {
    kubectl("create", "namespace", namespace);
  });
  afterAll(() => {
    kubectl("delete", "namespace", namespace, "--wait=false", "--ignore-not-found");
  });

  it("has one default StorageClass: hostPath volumes, reclaim Delete", () => {
    const classes = JSON.parse(kubectl("get", "storageclass", "-o", "json")).items as {
      metadata: { annotations?: Record<string, string> };
      provisioner: string;
      reclaimPolicy: string;
    }[];
    const defaults = classes.filter(
      (c) => c.metadata.annotations?.["storageclass.kubernetes.io/is-default-class"] === "true",
    );
    expect(defaults.map((c) => [c.provisioner, c.reclaimPolicy])).toEqual([
      ["kubernetes.io/host-path", "Delete"],
    ]);
  });

  it("binds a claim without a class, a pod writes to it, deleting the claim deletes the volume", async () => {
    create({
      apiVersion: "v1",
      kind: "PersistentVolumeClaim",
      metadata: { name: "data" },
      spec: { accessModes: ["ReadWriteOnce"], resources: { requests: { storage: "16Mi" } } },
    });
    await waitFor("claim Bound", () => field("pvc", "data", "{.status.phase}") === "Bound", 60_000);
    const pv = field("pvc", "data", "{.spec.volumeName}");
    expect(pv).not.toBe("");
    expect(field("pv", pv, "{.spec.persistentVolumeReclaimPolicy}", [])).toBe("Delete");
    const hostPath = field("pv", pv, "{.spec.hostPath.path}", []);
    expect(hostPath).toMatch(/^\/tmp\/hostpath_pv\/./);

    create({
      apiVersion: "v1",
      kind: "Pod",
      metadata: { name: "writer" },
      spec: {
        restartPolicy: "Never",
        containers: [
          {
            name: "w",
            image: BUSYBOX_IMAGE,
            imagePullPolicy: "Never",
            // tar: what the kubernetes executor's workspace pod needs besides sh.
            command: [
              "sh",
              "-c",
              "echo written >/data/file && tar -c -f /dev/null -C /data . && cat /data/file",
            ],
            volumeMounts: [{ name: "data", mountPath: "/data" }],
          },
        ],
        volumes: [{ name: "data", persistentVolumeClaim: { claimName: "data" } }],
      },
    });
    await waitFor(
      "writer pod Succeeded",
      () => {
        const phase = field("pod", "writer", "{.status.phase}");
        if (phase === "Failed")
          throw new Error(`writer failed: ${kubectl("-n", namespace, "logs", "writer")}`);
        return phase === "Succeeded";
      },
      90_000,
    );
    expect(kubectl("-n", namespace, "logs", "writer")).toBe("written\n");
    // The volume is a directory of this node (the provisioner made it): it holds the file.
    expect(readFileSync(`${hostPath}/file`, "utf8")).toBe("written\n");

    kubectl("-n", namespace, "delete", "pod", "writer", "--wait=false");
    kubectl("-n", namespace, "delete", "pvc", "data", "--wait=false");
    await waitFor(
      "claim and volume deleted",
      () => field("pvc", "data", "{.metadata.name}") === "" && field("pv", pv, "{.metadata.name}", []) === "",
      120_000,
    );
    expect(existsSync(hostPath)).toBe(false);
  }, 240_000);
});
