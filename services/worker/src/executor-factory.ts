import path from "node:path";
import type { Logger } from "@wharf/config";
import type { Executor } from "@wharf/executor";
import type { WorkerOptions } from "./options.js";

/**
 * The only place concrete executors are chosen. Imported lazily so a local run
 * never loads dockerode and a docker worker never needs the local executor.
 */
export async function createExecutor(opts: WorkerOptions, log: Logger): Promise<Executor> {
  if (opts.executor === "kubernetes") {
    // In a pod: the service account's in-cluster config; elsewhere KUBECONFIG or ~/.kube/config.
    const { KubeConfig } = await import("@kubernetes/client-node");
    const { KubernetesExecutor, kubernetesOptionsFromEnv } = await import("@wharf/executor-kubernetes");
    const kc = new KubeConfig();
    kc.loadFromDefault();
    return new KubernetesExecutor({
      ...kubernetesOptionsFromEnv(process.env, kc),
      cacheMaxBytes: opts.cacheMaxBytes,
    });
  }
  if (opts.executor === "docker") {
    const { DockerExecutor } = await import("@wharf/executor-docker");
    return new DockerExecutor({
      networkMode: opts.dockerNetwork,
      ...(opts.registry ? { pushRegistry: opts.registry } : {}),
      ...(opts.secretsDir
        ? {
            secretsDir: opts.secretsDir,
            secretsProject: {
              ...(opts.instance ? { instance: opts.instance } : {}),
              ...(opts.projectId ? { projectId: opts.projectId } : {}),
            },
          }
        : {}),
      ...(opts.appendCertFile ? { appendCertFile: opts.appendCertFile } : {}),
      cacheMaxBytes: opts.cacheMaxBytes,
      logger: log.child({ executor: "docker" }),
    });
  }
  if (opts.executor === "cri") {
    const { CriExecutor } = await import("@wharf/executor-cri");
    const { imageRegistryHost, registryHost } = await import("@wharf/executor");
    const registry = opts.registry;
    return new CriExecutor({
      endpoint: opts.cri.endpoint,
      network: opts.cri.network,
      workRoot: opts.cri.workRoot,
      // Step images from the worker's own registry (WHARF_REGISTRY_*) are pulled with its credentials.
      ...(registry?.username && registry.password
        ? {
            pullAuth: (image: string) =>
              imageRegistryHost(image) === registryHost(registry.serveraddress)
                ? {
                    username: registry.username,
                    password: registry.password,
                    serverAddress: registry.serveraddress,
                  }
                : undefined,
          }
        : {}),
      logger: log.child({ executor: "cri" }),
    });
  }
  const { LocalExecutor } = await import("@wharf/executor-local");
  log.debug("using the local executor: step images are ignored");
  return new LocalExecutor({
    workspaceRoot: path.join(opts.dataDir, "workspaces"),
    cacheDir: opts.cacheDir,
    cacheMaxBytes: opts.cacheMaxBytes,
    logger: log.child({ executor: "local" }),
  });
}

/**
 * Loads an executor's module ahead of its use: a standby worker, before its build is known,
 * given the executor its backend will ask for.
 */
export function preloadExecutor(kind: string | undefined): Promise<unknown> {
  if (kind === "docker") return import("@wharf/executor-docker");
  if (kind === "cri") return import("@wharf/executor-cri");
  if (kind === "kubernetes") return import("@wharf/executor-kubernetes");
  return import("@wharf/executor-local");
}
