import path from "node:path";
import { fileURLToPath } from "node:url";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";

const protoFile = path.join(
  path.dirname(fileURLToPath(import.meta.url)),
  "..",
  "proto",
  "runtime",
  "v1",
  "api.proto",
);

// Enums as numbers (the wire value), int64 as JS numbers (timestamps in ns lose sub-µs
// precision, which nothing here reads), proto3 defaults filled in so absent means "".
const loaderOptions: protoLoader.Options = {
  keepCase: false,
  longs: Number,
  enums: Number,
  defaults: true,
};

export const ContainerState = { CREATED: 0, RUNNING: 1, EXITED: 2, UNKNOWN: 3 } as const;
export const NamespaceMode = { POD: 0, CONTAINER: 1, NODE: 2 } as const;

export interface NamespaceOption {
  network: number;
  pid: number;
  ipc: number;
}

export interface PodSandboxConfig {
  metadata: { name: string; uid: string; namespace: string; attempt: number };
  hostname: string;
  logDirectory: string;
  labels: Record<string, string>;
  annotations?: Record<string, string>;
  linux: { securityContext: { namespaceOptions: NamespaceOption } };
}

export interface ContainerConfig {
  metadata: { name: string; attempt: number };
  image: { image: string };
  command: string[];
  args: string[];
  workingDir: string;
  envs: { key: string; value: string }[];
  mounts: { containerPath: string; hostPath: string; readonly: boolean }[];
  labels: Record<string, string>;
  logPath: string;
  linux: { securityContext: { namespaceOptions: NamespaceOption } };
}

export interface ContainerStatus {
  id: string;
  state: number;
  startedAt: number;
  finishedAt: number;
  exitCode: number;
  reason: string;
  message: string;
  logPath: string;
}

/** The registry credentials of a pull (CRI AuthConfig); never logged. */
export interface PullAuth {
  username?: string;
  password?: string;
  auth?: string;
  serverAddress?: string;
  identityToken?: string;
  registryToken?: string;
}

/** A labelled sandbox or container as the list calls return it. */
export interface Listed {
  id: string;
  podSandboxId?: string;
  labels: Record<string, string>;
}

type Unary = (
  req: unknown,
  meta: grpc.Metadata,
  opts: grpc.CallOptions,
  cb: grpc.requestCallback<unknown>,
) => void;

/**
 * The CRI's RuntimeService and ImageService on one channel, each call a promise with a
 * deadline. Errors are grpc-js ServiceErrors (`code` a grpc.status).
 */
export class CriClient {
  private readonly runtime: grpc.Client;
  private readonly images: grpc.Client;

  constructor(
    readonly endpoint: string,
    private readonly callTimeoutMs = 60_000,
  ) {
    const def = protoLoader.loadSync(protoFile, loaderOptions);
    const pkg = grpc.loadPackageDefinition(def) as unknown as {
      runtime: {
        v1: { RuntimeService: grpc.ServiceClientConstructor; ImageService: grpc.ServiceClientConstructor };
      };
    };
    const credentials = grpc.credentials.createInsecure();
    // A unix socket (the usual case) or host:port; never TLS: runtimes serve the CRI on a local socket.
    this.runtime = new pkg.runtime.v1.RuntimeService(endpoint, credentials);
    this.images = new pkg.runtime.v1.ImageService(endpoint, credentials, {
      channelOverride: this.runtime.getChannel() as grpc.Channel,
    });
  }

  version(): Promise<{ runtimeName: string; runtimeVersion: string; runtimeApiVersion: string }> {
    return this.call(this.runtime, "version", { version: "v1" }, 10_000);
  }

  async runPodSandbox(config: PodSandboxConfig): Promise<string> {
    const r = await this.call<{ podSandboxId: string }>(this.runtime, "runPodSandbox", { config });
    return r.podSandboxId;
  }

  async stopPodSandbox(podSandboxId: string): Promise<void> {
    await this.call(this.runtime, "stopPodSandbox", { podSandboxId });
  }

  async removePodSandbox(podSandboxId: string): Promise<void> {
    await this.call(this.runtime, "removePodSandbox", { podSandboxId });
  }

  async listPodSandboxes(labelSelector: Record<string, string>): Promise<Listed[]> {
    const r = await this.call<{ items: Listed[] }>(this.runtime, "listPodSandbox", {
      filter: { labelSelector },
    });
    return r.items;
  }

  async createContainer(
    podSandboxId: string,
    config: ContainerConfig,
    sandboxConfig: PodSandboxConfig,
  ): Promise<string> {
    const r = await this.call<{ containerId: string }>(this.runtime, "createContainer", {
      podSandboxId,
      config,
      sandboxConfig,
    });
    return r.containerId;
  }

  async startContainer(containerId: string): Promise<void> {
    await this.call(this.runtime, "startContainer", { containerId });
  }

  /** SIGTERM (the image's stop signal), SIGKILL after `timeoutSeconds`; returns when the container ended. */
  async stopContainer(containerId: string, timeoutSeconds: number): Promise<void> {
    const deadline = this.callTimeoutMs + timeoutSeconds * 1000;
    await this.call(this.runtime, "stopContainer", { containerId, timeout: timeoutSeconds }, deadline);
  }

  async removeContainer(containerId: string): Promise<void> {
    await this.call(this.runtime, "removeContainer", { containerId });
  }

  async listContainers(labelSelector: Record<string, string>): Promise<Listed[]> {
    const r = await this.call<{ containers: Listed[] }>(this.runtime, "listContainers", {
      filter: { labelSelector },
    });
    return r.containers;
  }

  async containerStatus(containerId: string): Promise<ContainerStatus> {
    const r = await this.call<{ status: ContainerStatus }>(this.runtime, "containerStatus", { containerId });
    return r.status;
  }

  /** The image's id, or undefined when the runtime does not have it. */
  async imageId(image: string): Promise<string | undefined> {
    const r = await this.call<{ image: { id: string } | null }>(this.images, "imageStatus", {
      image: { image },
    });
    return r.image?.id || undefined;
  }

  async pullImage(image: string, auth: PullAuth | undefined, timeoutMs: number): Promise<string> {
    const r = await this.call<{ imageRef: string }>(
      this.images,
      "pullImage",
      { image: { image }, ...(auth ? { auth } : {}) },
      timeoutMs,
    );
    return r.imageRef;
  }

  close(): void {
    this.images.close();
    this.runtime.close();
  }

  private call<T>(
    client: grpc.Client,
    method: string,
    req: unknown,
    timeoutMs = this.callTimeoutMs,
  ): Promise<T> {
    const fn = (client as unknown as Record<string, Unary>)[method];
    if (!fn) throw new Error(`no CRI method ${method}`);
    return new Promise<T>((resolve, reject) => {
      fn.call(client, req, new grpc.Metadata(), { deadline: Date.now() + timeoutMs }, (err, res) =>
        err ? reject(err) : resolve(res as T),
      );
    });
  }
}

/** A grpc status of a failed call, or undefined for anything else. */
export function grpcCode(err: unknown): number | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === "number" ? code : undefined;
}

/** "Already gone": removing or stopping what the runtime no longer knows is success. */
export function isNotFound(err: unknown): boolean {
  return grpcCode(err) === grpc.status.NOT_FOUND;
}
