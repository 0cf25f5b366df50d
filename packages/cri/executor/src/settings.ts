import os from "node:os";
import path from "node:path";
import { ConfigError, type Env, envString } from "@wharf/config";

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

export interface CriSettings {
  endpoint: string;
  network: CriNetwork;
  workRoot: string;
}

/**
 * The cri executor's settings, read by the worker (WHARF_EXECUTOR=cri, `--backend cri`) and
 * `wharf janitor --cri`:
 * - WHARF_CRI_ENDPOINT: the runtime's CRI socket; default DEFAULT_CRI_ENDPOINT, containerd's
 *   `unix:///run/containerd/containerd.sock` (CRI-O: `unix:///var/run/crio/crio.sock`).
 * - WHARF_CRI_NETWORK: `pod` (the default), a network namespace of the build's own as the
 *   runtime's CNI configuration makes it; `host`, the host's network, explicit opt-in only.
 * - WHARF_CRI_WORK_ROOT: the host directory of each build's workspace and of the runtime's log
 *   files (the runtime bind-mounts and writes there, so it is a path of the runtime's host, the
 *   same in a worker container); default `$TMPDIR/wharf-cri-builds`. Shared by the workers of a
 *   host: a worker's first build removes what a killed one left there and in the runtime.
 */
export function compileCriSettings(env: Env): CriSettings {
  const network = envString(env, CRI_ENV.network, "pod");
  if (!(CRI_NETWORKS as readonly string[]).includes(network))
    throw new ConfigError(`${CRI_ENV.network} must be ${CRI_NETWORKS.join(" or ")}, got "${network}"`);
  const workRoot = envString(env, CRI_ENV.workRoot, path.join(os.tmpdir(), CRI_WORK_ROOT_NAME));
  if (!path.isAbsolute(workRoot))
    throw new ConfigError(
      `${CRI_ENV.workRoot} must be an absolute path of the runtime's host, got "${workRoot}"`,
    );
  return {
    endpoint: envString(env, CRI_ENV.endpoint, DEFAULT_CRI_ENDPOINT),
    network: network as CriNetwork,
    workRoot,
  };
}
