/**
 * The CRI executor's settings that a worker reads from its environment, without loading gRPC
 * (a subpath of its own: `@wharf/executor-cri/settings`).
 */

/** Where containerd serves the CRI on a stock install; CRI-O's is `unix:///var/run/crio/crio.sock`. */
export const DEFAULT_CRI_ENDPOINT = "unix:///run/containerd/containerd.sock";

/**
 * Network of a build's sandbox: "pod" (the default) is a network namespace of the sandbox's
 * own, set up by the runtime's CNI configuration (all steps of the build share it and reach
 * each other on localhost); "host" is the node's network, explicit opt-in only.
 */
export type CriNetwork = "pod" | "host";
export const CRI_NETWORKS: readonly CriNetwork[] = ["pod", "host"];
