import fs from "node:fs/promises";
import http, { type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import type { Duplex } from "node:stream";
import { KubeConfig } from "@kubernetes/client-node";
import { WebSocketServer } from "ws";
import { type ApiPath, parseApiPath, rbacVerb } from "./api-path.js";
import { ApiStatusError, notFound, sendJson } from "./api-status.js";
import { type AuthorizationRequest, type Authorizer, forbidden } from "./authorization.js";
import { FakeKubelet } from "./kubelet.js";
import type { FakeNode } from "./node-placement.js";
import { type KubeObject, ObjectStore } from "./object-store.js";
import { handleRest } from "./rest-handler.js";
import type { FakeStorageOptions } from "./storage.js";
import { runExecSession, runPortForwardSession } from "./stream-sessions.js";

/** One request as the authorizer would see it; tests compare these with a Role. */
export interface ApiCall {
  verb: string;
  resource: string;
  subresource?: string;
  namespace?: string;
  name?: string;
  /** HTTP status answered (101 for a WebSocket upgrade). */
  code: number;
}

export interface FakeKubeOptions extends FakeStorageOptions {
  /** Whether an image "exists"; a missing one gives ErrImagePull/ImagePullBackOff. Default: all exist. */
  imageExists?: (image: string) => boolean;
  /** Namespace of the kubeconfig's context. Default "default". */
  namespace?: string;
  /**
   * Authorizes every request (REST and WebSocket upgrades) like the API server's RBAC
   * authorizer; a denied one gets 403 Forbidden and is recorded with code 403. Default:
   * everything is allowed. `rbacAuthorizer(role.rules)` grants what a Role grants.
   */
  authorize?: Authorizer;
  /** The user named in a 403's message. Default "system:serviceaccount:<namespace>:default". */
  user?: string;
  /**
   * The Kubernetes version to act as (`/version`, and what the exec endpoint speaks). Below
   * 1.30 only `v4.channel.k8s.io` is offered for exec, as API servers before the
   * `v5.channel.k8s.io` protocol (alpha in 1.29, on by default from 1.30) do: stdin cannot be
   * half-closed, a close frame [255, 0] is ignored. Default "1.31.0".
   */
  kubernetesVersion?: string;
  /**
   * The cluster's nodes (names, or names with labels and taints). Pods are spread over the
   * nodes that fit them (nodeSelector, required node affinity, tolerations of NoSchedule and
   * NoExecute taints), and a ReadWriteOnce claim in use on one node cannot be attached on
   * another (the pod waits with "Multi-Attach error"). Default: one node, "fake-node".
   */
  nodes?: FakeNode[];
  /**
   * A deleted pod's object stays (Terminating) for its whole grace period even when its
   * containers stopped sooner, as a busy v1.20 kubelet was seen to keep them (up to 60 s).
   * Default: it goes once its containers stopped.
   */
  holdTerminatingPods?: boolean;
}

/**
 * What an injected fault does to a request it hits:
 * - `hang`: never answers (the connection stays open until the client gives up);
 * - `delay`: answers normally after `ms`;
 * - `drop`: closes the connection without an answer (the client sees ECONNRESET / socket hang up);
 * - `status`: answers a Status with `code` (500, 503, 429, …), with Retry-After if given;
 * - `reset`: answers normally, then closes the connection after `afterMs` (cuts a followed
 *   log or a watch in the middle of its body).
 */
export type FaultAction =
  | { kind: "hang" }
  | { kind: "delay"; ms: number }
  | { kind: "drop" }
  | { kind: "status"; code: number; retryAfterSeconds?: number }
  | { kind: "reset"; afterMs: number };

/** A fault for the requests it matches; unset fields match anything, `subresource: ""` none. */
export interface Fault {
  verb?: string;
  resource?: string;
  subresource?: string;
  name?: string | RegExp;
  action: FaultAction;
  /** How many matching requests it hits, then it is spent. Default: every one. */
  times?: number;
}

/** An injected fault: how many requests it hit; `remove` lifts it. */
export interface InjectedFault {
  readonly hits: number;
  remove(): void;
}

const STATUS_REASONS: Record<number, string> = {
  429: "TooManyRequests",
  500: "InternalError",
  503: "ServiceUnavailable",
  504: "Timeout",
};

/** The exec subprotocols an API server of this minor version offers, most preferred first. */
export function execProtocols(minor: number): string[] {
  return minor >= 30 ? ["v5.channel.k8s.io", "v4.channel.k8s.io"] : ["v4.channel.k8s.io"];
}
const PORT_FORWARD_PROTOCOLS = ["v4.channel.k8s.io"];

/**
 * An in-process stand-in for kube-apiserver + one kubelet, on 127.0.0.1 over plain HTTP.
 * It speaks the core/v1 REST paths `@kubernetes/client-node` uses for pods (with log,
 * status, exec and portforward), persistentvolumeclaims, events, secrets and configmaps.
 * Namespaces need not exist; there is no authentication, but every call is recorded, and
 * with `authorize` (e.g. `rbacAuthorizer` of a Role's rules) a denied call gets 403 Forbidden.
 */
export class FakeKubeApiServer {
  readonly store = new ObjectStore();
  readonly calls: ApiCall[] = [];
  readonly kubelet: FakeKubelet;
  private readonly server: http.Server;
  private readonly wss = new WebSocketServer({
    noServer: true,
    handleProtocols: (p) => this.pickProtocol(p),
  });
  private pendingProtocols: string[];
  private readonly faults: { fault: Fault; hits: number }[] = [];
  private readonly execProtocols: string[];
  private readonly hungUpgrades = new Set<Duplex>();
  private readonly version: { major: string; minor: string; gitVersion: string };
  private port = 0;

  private constructor(
    readonly rootDir: string,
    private readonly options: FakeKubeOptions,
  ) {
    const version = options.kubernetesVersion ?? "1.31.0";
    const [major = "1", minor = "31"] = version.split(".");
    this.version = { major, minor, gitVersion: `v${version}-wharf-fake` };
    this.execProtocols = execProtocols(Number(minor));
    this.pendingProtocols = this.execProtocols;
    this.kubelet = new FakeKubelet(this.store, {
      rootDir,
      imageExists: options.imageExists,
      ...(options.nodes ? { nodes: options.nodes } : {}),
      holdTerminatingPods: options.holdTerminatingPods,
    });
    this.server = http.createServer((req, res) => void this.onRequest(req, res));
    this.server.on("upgrade", (req, socket, head) => this.onUpgrade(req, socket, head));
    this.store.subscribe((e) => {
      // kubernetes.io/pvc-protection: a claim marked for deletion goes once no live pod uses it.
      if (e.resource === "pods") this.releaseProtectedClaims(e.object.metadata.namespace!);
    });
  }

  static async start(options: FakeKubeOptions = {}): Promise<FakeKubeApiServer> {
    const rootDir = await fs.mkdtemp(path.join(os.tmpdir(), "wharf-kube-fake-"));
    const fake = new FakeKubeApiServer(rootDir, options);
    await new Promise<void>((resolve) => fake.server.listen(0, "127.0.0.1", resolve));
    fake.port = (fake.server.address() as AddressInfo).port;
    return fake;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** A KubeConfig for client-node pointing at this server. */
  kubeConfig(namespace = this.options.namespace ?? "default"): KubeConfig {
    const kc = new KubeConfig();
    kc.loadFromOptions({
      clusters: [{ name: "fake", server: this.url, skipTLSVerify: true }],
      users: [{ name: "fake", token: "fake-token" }],
      contexts: [{ name: "fake", cluster: "fake", user: "fake", namespace }],
      currentContext: "fake",
    });
    return kc;
  }

  /** The same config as a kubeconfig file's YAML, for child processes (`KUBECONFIG=`). */
  kubeConfigYaml(namespace = this.options.namespace ?? "default"): string {
    return this.kubeConfig(namespace).exportConfig();
  }

  private request(method: string, p: ApiPath, url: URL): AuthorizationRequest {
    const watch = ["true", "1"].includes(url.searchParams.get("watch") ?? "");
    return {
      verb: rbacVerb(method, p, watch),
      resource: p.resource,
      ...(p.subresource ? { subresource: p.subresource } : {}),
      ...(p.namespace ? { namespace: p.namespace } : {}),
      ...(p.name ? { name: p.name } : {}),
    };
  }

  private record(method: string, p: ApiPath, url: URL, code: number): void {
    this.calls.push({ ...this.request(method, p, url), code });
  }

  /** Throws the API server's 403 if the configured authorizer denies the request. */
  private authorize(method: string, p: ApiPath, url: URL): void {
    if (!this.options.authorize) return;
    const request = this.request(method, p, url);
    if (this.options.authorize(request)) return;
    const user =
      this.options.user ??
      `system:serviceaccount:${this.options.namespace ?? p.namespace ?? "default"}:default`;
    throw forbidden(request, user);
  }

  /**
   * Makes the server misbehave on the requests `fault` matches (REST calls and exec /
   * port-forward upgrades), as a loaded or flaky API server or network does. Hit requests
   * are recorded in `calls` with code 0 when nothing was answered.
   */
  injectFault(fault: Fault): InjectedFault {
    const entry = { fault, hits: 0 };
    this.faults.push(entry);
    return {
      get hits() {
        return entry.hits;
      },
      remove: () => {
        const i = this.faults.indexOf(entry);
        if (i >= 0) this.faults.splice(i, 1);
      },
    };
  }

  private takeFault(method: string, p: ApiPath, url: URL): FaultAction | undefined {
    const r = this.request(method, p, url);
    const entry = this.faults.find(({ fault: f, hits }) => {
      if (f.times !== undefined && hits >= f.times) return false;
      if (f.verb !== undefined && f.verb !== r.verb) return false;
      if (f.resource !== undefined && f.resource !== r.resource) return false;
      if (f.subresource !== undefined && f.subresource !== (r.subresource ?? "")) return false;
      if (f.name !== undefined) {
        if (r.name === undefined) return false;
        if (typeof f.name === "string" ? f.name !== r.name : !f.name.test(r.name)) return false;
      }
      return true;
    });
    if (!entry) return undefined;
    entry.hits++;
    return entry.fault.action;
  }

  /** Applies a fault to a REST request; true when the request is dealt with (no normal answer). */
  private async applyFault(
    action: FaultAction,
    method: string,
    p: ApiPath,
    url: URL,
    req: IncomingMessage,
    res: ServerResponse,
  ): Promise<boolean> {
    switch (action.kind) {
      case "hang":
        this.record(method, p, url, 0);
        return true;
      case "drop":
        this.record(method, p, url, 0);
        req.socket.destroy();
        return true;
      case "status": {
        this.record(method, p, url, action.code);
        const reason = STATUS_REASONS[action.code] ?? "InternalError";
        if (action.retryAfterSeconds !== undefined)
          res.setHeader("Retry-After", String(action.retryAfterSeconds));
        sendJson(
          res,
          action.code,
          new ApiStatusError(
            action.code,
            reason,
            `fake: injected fault (${action.code} ${reason})`,
          ).toStatus(),
        );
        return true;
      }
      case "delay":
        await new Promise((r) => setTimeout(r, action.ms));
        return false;
      case "reset":
        setTimeout(() => req.socket.destroy(), action.afterMs);
        return false;
    }
  }

  private async onRequest(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", this.url);
    if (["/version", "/healthz", "/readyz", "/livez"].includes(url.pathname)) {
      if (url.pathname === "/version") sendJson(res, 200, this.version);
      else res.writeHead(200, { "Content-Type": "text/plain" }).end("ok");
      return;
    }
    const apiPath = parseApiPath(url.pathname);
    const fault = apiPath && this.takeFault(req.method ?? "GET", apiPath, url);
    if (fault && apiPath && (await this.applyFault(fault, req.method ?? "GET", apiPath, url, req, res)))
      return;
    try {
      if (!apiPath)
        throw new ApiStatusError(
          404,
          "NotFound",
          `the server could not find the requested resource ${url.pathname}`,
        );
      this.authorize(req.method ?? "GET", apiPath, url);
      await handleRest(this.restContext(), apiPath, url, req, res);
    } catch (err) {
      const status =
        err instanceof ApiStatusError
          ? err
          : new ApiStatusError(500, "InternalError", `fake: ${(err as Error).message}`);
      if (!res.headersSent) sendJson(res, status.code, status.toStatus());
      else res.end();
    } finally {
      if (apiPath) this.record(req.method ?? "GET", apiPath, url, res.statusCode);
    }
  }

  private restContext() {
    return {
      store: this.store,
      kubelet: this.kubelet,
      rootDir: this.rootDir,
      storage: this.options,
      deleteObject: (resource: string, ns: string, name: string, grace?: number, propagation?: string) =>
        this.deleteObject(resource, ns, name, grace, propagation),
    };
  }

  /** Graceful for pods (the kubelet removes them once stopped), protected for PVCs in use, cascading to dependants. */
  deleteObject(resource: string, ns: string, name: string, grace?: number, propagation?: string): KubeObject {
    const obj = this.store.get(resource, ns, name);
    if (!obj) throw notFound(resource, name);
    let result: KubeObject;
    if (obj.metadata.deletionTimestamp) {
      // Deleting a terminating pod again with grace 0 forces it: the object goes at once.
      result = resource === "pods" && grace === 0 ? (this.store.remove(resource, ns, name) ?? obj) : obj;
    } else if (resource === "pods" || (resource === "persistentvolumeclaims" && this.claimInUse(ns, name))) {
      result = this.store.update(resource, ns, name, (o) => {
        // As the API server: a pod's deletionTimestamp is when its grace period ends.
        const seconds = resource === "pods" ? (grace ?? o.spec?.terminationGracePeriodSeconds ?? 30) : 0;
        o.metadata.deletionTimestamp = new Date(Date.now() + seconds * 1000)
          .toISOString()
          .replace(/\.\d+Z$/, "Z");
        if (resource === "pods") o.metadata.deletionGracePeriodSeconds = seconds;
      });
    } else {
      result = this.store.remove(resource, ns, name)!;
    }
    if (propagation !== "Orphan") {
      for (const d of this.store.dependantsOf(obj.metadata.uid!)) {
        const meta = d.object.metadata;
        if (!meta.deletionTimestamp)
          this.deleteObject(d.resource, meta.namespace!, meta.name!, undefined, propagation);
      }
    }
    return result;
  }

  private claimInUse(ns: string, claim: string): boolean {
    return this.store
      .list("pods", ns)
      .some(
        (p) =>
          !["Succeeded", "Failed"].includes(p.status?.phase) &&
          (p.spec.volumes ?? []).some(
            (v: { persistentVolumeClaim?: { claimName: string } }) =>
              v.persistentVolumeClaim?.claimName === claim,
          ),
      );
  }

  private releaseProtectedClaims(ns: string): void {
    for (const pvc of this.store.list("persistentvolumeclaims", ns)) {
      if (pvc.metadata.deletionTimestamp && !this.claimInUse(ns, pvc.metadata.name!)) {
        this.store.remove("persistentvolumeclaims", ns, pvc.metadata.name!);
      }
    }
  }

  private pickProtocol(offered: Set<string>): string | false {
    return this.pendingProtocols.find((p) => offered.has(p)) ?? false;
  }

  private onUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const url = new URL(req.url ?? "/", this.url);
    const apiPath = parseApiPath(url.pathname);
    const reject = (code: number, message: string) => {
      if (apiPath) this.record("GET", apiPath, url, code);
      socket.end(
        `HTTP/1.1 ${code} ${http.STATUS_CODES[code]}\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\n${message}`,
      );
    };
    if (!apiPath?.name || apiPath.resource !== "pods" || !apiPath.namespace) {
      reject(404, "not found");
      return;
    }
    const fault = this.takeFault("GET", apiPath, url);
    if (fault?.kind === "hang") {
      this.record("GET", apiPath, url, 0);
      // An upgrade request's socket is no longer the HTTP server's: close() must end it.
      this.hungUpgrades.add(socket);
      socket.once("close", () => this.hungUpgrades.delete(socket));
      return;
    }
    if (fault?.kind === "drop") {
      this.record("GET", apiPath, url, 0);
      socket.destroy();
      return;
    }
    if (fault?.kind === "status") {
      reject(fault.code, `fake: injected fault (${fault.code})`);
      return;
    }
    if (fault?.kind === "delay") {
      setTimeout(() => this.upgrade(req, socket, head, url, apiPath, reject), fault.ms);
      return;
    }
    if (fault?.kind === "reset") setTimeout(() => socket.destroy(), fault.afterMs);
    this.upgrade(req, socket, head, url, apiPath, reject);
  }

  private upgrade(
    req: IncomingMessage,
    socket: Duplex,
    head: Buffer,
    url: URL,
    apiPath: ApiPath,
    reject: (code: number, message: string) => void,
  ): void {
    try {
      this.authorize("GET", apiPath, url);
    } catch (err) {
      reject(403, (err as Error).message);
      return;
    }
    const sub = apiPath.subresource;
    if (sub !== "exec" && sub !== "portforward") {
      reject(404, `no upgrade for ${sub}`);
      return;
    }
    const pod = this.store.get("pods", apiPath.namespace!, apiPath.name!);
    if (!pod) {
      reject(404, `pods "${apiPath.name}" not found`);
      return;
    }
    if (pod.status?.phase !== "Running") {
      reject(400, `pod ${apiPath.name} is not running (phase ${pod.status?.phase})`);
      return;
    }
    const ports = url.searchParams
      .getAll("ports")
      .flatMap((p) => p.split(","))
      .map(Number);
    if (
      sub === "portforward" &&
      (ports.length === 0 || ports.some((p) => !Number.isInteger(p) || p < 1 || p > 65535))
    ) {
      reject(400, "invalid ports");
      return;
    }
    this.pendingProtocols = sub === "exec" ? this.execProtocols : PORT_FORWARD_PROTOCOLS;
    this.wss.handleUpgrade(req, socket, head, (ws) => {
      this.record("GET", apiPath, url, 101);
      if (sub === "exec") runExecSession(ws, this.kubelet, pod, url);
      else runPortForwardSession(ws, ports);
    });
  }

  /** Stops the server, kills every pod process and removes the fake's host directories. */
  async close(): Promise<void> {
    for (const ws of this.wss.clients) ws.terminate();
    for (const socket of this.hungUpgrades) socket.destroy();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    await this.kubelet.close();
  }
}
