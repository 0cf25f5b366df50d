/**
 * The CRI executor's settings that a worker reads from its environment, without loading gRPC
 * (a subpath of its own: `@wharf/executor-cri/settings`). The provisioner reads and writes the
 * same names when it starts workers whose steps run on a CRI runtime.
 */

/** Where containerd serves the CRI on a stock install; CRI-O's is `unix:///var/run/crio/crio.sock`. */
export const DEFAULT_CRI_ENDPOINT = "unix:///run/containerd/containerd.sock";

/** The worker's environment names of these settings. */
export const CRI_ENV = {
  endpoint: "WHARF_CRI_ENDPOINT",
  network: "WHARF_CRI_NETWORK",
  workRoot: "WHARF_CRI_WORK_ROOT",
} as const;

/** The work root's directory under the temp dir when WHARF_CRI_WORK_ROOT is unset. */
export const CRI_WORK_ROOT_NAME = "wharf-cri-builds";

/**
 * Network of a build's sandbox: "pod" (the default) is a network namespace of the sandbox's
 * own, set up by the runtime's CNI configuration (all steps of the build share it and reach
 * each other on localhost); "host" is the node's network, explicit opt-in only.
 */
export type CriNetwork = "pod" | "host";
export const CRI_NETWORKS: readonly CriNetwork[] = ["pod", "host"];

/**
 * The socket path of a `unix://` endpoint (what a worker container needs mounted), or
 * undefined for any other kind of endpoint.
 */
export function criSocketPath(endpoint: string): string | undefined {
  const m = /^unix:\/\/(\/.*)$/.exec(endpoint);
  return m ? m[1] : undefined;
}
