import os from "node:os";
import path from "node:path";
import { ConfigError, type Env } from "@wharf/config/env";
import { readSettings, setting } from "@wharf/config/settings";

/**
 * The CRI executor's settings that a worker reads from its environment, without loading gRPC
 * (a subpath of its own: `@wharf/executor-cri/settings`). The provisioner reads and writes the
 * same names when it starts workers whose steps run on a CRI runtime.
 */

/** Where containerd serves the CRI on a stock install; CRI-O's is `unix:///var/run/crio/crio.sock`. */
export const DEFAULT_CRI_ENDPOINT = "unix:///run/containerd/containerd.sock";

/** The work root's directory under the temp dir when WHARF_CRI_WORK_ROOT is unset. */
export const CRI_WORK_ROOT_NAME = "wharf-cri-builds";

/**
 * Network of a build's sandbox: "pod" (the default) is a network namespace of the sandbox's
 * own, set up by the runtime's CNI configuration (all steps of the build share it and reach
 * each other on localhost); "host" is the node's network, explicit opt-in only.
 */
export type CriNetwork = "pod" | "host";
export const CRI_NETWORKS = ["pod", "host"] as const satisfies readonly CriNetwork[];

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
 * `wharf janitor --cri`; the provisioner passes them on to its local and docker workers.
 */
export const CRI_SETTINGS = {
  endpoint: setting.text("WHARF_CRI_ENDPOINT", {
    default: DEFAULT_CRI_ENDPOINT,
    doc: "the runtime's CRI socket (CRI-O: unix:///var/run/crio/crio.sock)",
  }),
  network: setting.oneOf("WHARF_CRI_NETWORK", CRI_NETWORKS, {
    default: "pod",
    doc: "a build sandbox's network: pod, a network namespace of its own as the runtime's CNI configuration makes it; host, the host's (explicit opt-in only)",
  }),
  workRoot: setting.text("WHARF_CRI_WORK_ROOT", {
    defaultDoc: `$TMPDIR/${CRI_WORK_ROOT_NAME}`,
    doc: "absolute host directory of each build's workspace and the runtime's log files (the runtime mounts and writes there, so a path of its host, the same in a worker container); shared by the workers of a host, a worker's first build removes what a killed one left",
  }),
};

/** The worker's environment names of these settings. */
export const CRI_ENV = {
  endpoint: CRI_SETTINGS.endpoint.env,
  network: CRI_SETTINGS.network.env,
  workRoot: CRI_SETTINGS.workRoot.env,
} as const;

/** The cri executor's settings, for a worker on the runtime's host. */
export function compileCriSettings(env: Env): CriSettings {
  const s = readSettings(CRI_SETTINGS, env);
  const workRoot = s.workRoot ?? path.join(os.tmpdir(), CRI_WORK_ROOT_NAME);
  if (!path.isAbsolute(workRoot))
    throw new ConfigError(
      `${CRI_ENV.workRoot} must be an absolute path of the runtime's host, got "${workRoot}"`,
    );
  return { endpoint: s.endpoint, network: s.network, workRoot };
}
