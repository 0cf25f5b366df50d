import { execFileSync } from "node:child_process";
import { createRequire } from "node:module";
import { pathToFileURL } from "node:url";
import type { KubernetesBackendOptions } from "../../packages/kubernetes/backends/src/index.js";

/**
 * A real cluster for test/kube-real: the admin kubeconfig that scripts/kube/up.sh prints,
 * in WHARF_KUBE_REAL_KUBECONFIG. Without it these tests are skipped.
 */
export const ADMIN_KUBECONFIG = process.env.WHARF_KUBE_REAL_KUBECONFIG ?? "";
/** busybox with a stand-in `git` that only makes the clone's directory (scripts/kube/up.sh imports it). */
export const STANDIN_IMAGE = process.env.WHARF_KUBE_REAL_STANDIN_IMAGE ?? "wharf.local/worker-standin:1";
/** busybox without git: a clone that fails. */
export const BUSYBOX_IMAGE = process.env.WHARF_KUBE_REAL_BUSYBOX_IMAGE ?? "wharf.local/busybox:1";

export type KubeConfig = KubernetesBackendOptions["kubeConfig"];

/** kubectl as the admin; returns stdout. */
export function kubectl(...args: string[]): string {
  return execFileSync(process.env.KUBECTL ?? "kubectl", ["--kubeconfig", ADMIN_KUBECONFIG, ...args], {
    encoding: "utf8",
    stdio: ["ignore", "pipe", "pipe"],
  });
}

/** `kubectl create -f -` of one object as the admin; returns stdout. */
export function kubectlCreate(namespace: string, object: object): string {
  return execFileSync(
    process.env.KUBECTL ?? "kubectl",
    ["--kubeconfig", ADMIN_KUBECONFIG, "-n", namespace, "create", "-f", "-"],
    { input: JSON.stringify(object), encoding: "utf8", stdio: ["pipe", "pipe", "pipe"] },
  );
}

// @kubernetes/client-node is a dependency of @wharf/kube-backends, not of this test package:
// load the very copy kube-backends uses.
const requireFromKubeBackends = createRequire(
  new URL("../../packages/kubernetes/backends/package.json", import.meta.url),
);
async function kubeConfigClass(): Promise<new () => KubeConfig> {
  const file = requireFromKubeBackends.resolve("@kubernetes/client-node");
  const mod = (await import(pathToFileURL(file).href)) as { KubeConfig: new () => KubeConfig };
  return mod.KubeConfig;
}

/**
 * A kubeconfig that authenticates as a service account of `namespace` (a token from the
 * TokenRequest API), so the API server's RBAC decides each call as it would for the service
 * running in the cluster under that account.
 */
export async function serviceAccountKubeConfig(
  namespace: string,
  serviceAccount: string,
): Promise<KubeConfig> {
  const token = kubectl("-n", namespace, "create", "token", serviceAccount, "--duration=1h").trim();
  const server = kubectl("config", "view", "--minify", "-o", "jsonpath={.clusters[0].cluster.server}");
  const caData = kubectl(
    "config",
    "view",
    "--minify",
    "--raw",
    "-o",
    "jsonpath={.clusters[0].cluster.certificate-authority-data}",
  );
  const KubeConfigClass = await kubeConfigClass();
  const kc = new KubeConfigClass();
  kc.loadFromOptions({
    clusters: [{ name: "real", server, caData }],
    users: [{ name: serviceAccount, token }],
    contexts: [{ name: "real", cluster: "real", user: serviceAccount, namespace }],
    currentContext: "real",
  });
  return kc;
}
