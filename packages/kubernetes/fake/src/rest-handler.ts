import type { IncomingMessage, ServerResponse } from "node:http";
import { type ApiPath, RESOURCE_KINDS } from "./api-path.js";
import { ApiStatusError, badRequest, notFound, sendJson } from "./api-status.js";
import type { FakeKubelet } from "./kubelet.js";
import { applyMergePatch } from "./merge-patch.js";
import { ConflictError, type KubeObject, type ObjectStore } from "./object-store.js";
import { normalizeSecret, validateObject } from "./object-validation.js";
import { parseFieldSelector, parseLabelSelector, SelectorError } from "./selectors.js";
import { admitClaim, type FakeStorageOptions, provisionClaim } from "./storage.js";
import { serveWatch } from "./watch-stream.js";

export interface RestContext {
  store: ObjectStore;
  kubelet: FakeKubelet;
  rootDir: string;
  storage: FakeStorageOptions;
  /** Deletes an object the way the API server does (graceful for pods, cascading to dependants). */
  deleteObject(
    resource: string,
    namespace: string,
    name: string,
    gracePeriodSeconds?: number,
    propagation?: string,
  ): KubeObject;
}

const MAX_BODY = 8 * 1024 * 1024;

async function readJson(req: IncomingMessage): Promise<KubeObject | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY) throw new ApiStatusError(413, "RequestEntityTooLarge", "request body too large");
    chunks.push(chunk as Buffer);
  }
  const text = Buffer.concat(chunks).toString();
  if (!text.trim()) return undefined;
  try {
    return JSON.parse(text);
  } catch (err) {
    throw badRequest(`the body of the request was not valid JSON: ${(err as Error).message}`);
  }
}

const withKind = (kind: string, o: KubeObject) => ({ apiVersion: "v1", kind, ...o });

function selectorsOf(url: URL): (o: KubeObject) => boolean {
  try {
    const labels = parseLabelSelector(url.searchParams.get("labelSelector"));
    const fields = parseFieldSelector(url.searchParams.get("fieldSelector"));
    return (o) => labels(o.metadata.labels ?? {}) && fields(o);
  } catch (err) {
    if (err instanceof SelectorError) throw badRequest(err.message);
    throw err;
  }
}

async function serveLog(ctx: RestContext, pod: KubeObject, url: URL, res: ServerResponse): Promise<void> {
  const containers: string[] = [...(pod.spec.initContainers ?? []), ...pod.spec.containers].map(
    (c: { name: string }) => c.name,
  );
  let container = url.searchParams.get("container") ?? undefined;
  if (!container) {
    if (pod.spec.containers.length !== 1) {
      throw badRequest(
        `a container name must be specified for pod ${pod.metadata.name}, choose one of: [${containers.join(" ")}]`,
      );
    }
    container = pod.spec.containers[0].name as string;
  }
  if (!containers.includes(container))
    throw badRequest(`container ${container} is not valid for pod ${pod.metadata.name}`);
  const log = ctx.kubelet.containerLog(pod.metadata.uid!, container);
  if (!log) {
    const statuses = [...(pod.status?.initContainerStatuses ?? []), ...(pod.status?.containerStatuses ?? [])];
    const reason =
      statuses.find((s: { name: string }) => s.name === container)?.state?.waiting?.reason ??
      "ContainerCreating";
    throw badRequest(`container "${container}" in pod "${pod.metadata.name}" is waiting to start: ${reason}`);
  }
  const sinceTime = url.searchParams.get("sinceTime") ?? undefined;
  if (sinceTime !== undefined && !Number.isFinite(Date.parse(sinceTime)))
    throw badRequest(`parsing time "${sinceTime}" as RFC3339: cannot parse`);
  // The kubelet commits 200 before it reads the container's log; what goes wrong later
  // (the container was removed) is written into the body as text.
  res.writeHead(200, { "Content-Type": "text/plain", "Transfer-Encoding": "chunked" });
  res.flushHeaders();
  const removed = ctx.kubelet.containerLogError(pod.metadata.uid!, container);
  if (removed) {
    res.end(removed);
    return;
  }
  const options = { timestamps: url.searchParams.get("timestamps") === "true", sinceTime };
  if (url.searchParams.get("follow") !== "true") {
    res.end(log.contents(options));
    return;
  }
  const stop = log.follow({ write: (chunk) => res.write(chunk), end: () => res.end() }, options);
  res.on("close", stop);
}

/** Handles one REST request on a parsed core-group path; returns the HTTP status sent. */
export async function handleRest(
  ctx: RestContext,
  path: ApiPath,
  url: URL,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  const kind = RESOURCE_KINDS[path.resource];
  if (!kind)
    throw new ApiStatusError(
      404,
      "NotFound",
      `the server could not find the requested resource (${path.resource})`,
    );
  const ns = path.namespace;
  const method = req.method ?? "GET";
  const watch = ["true", "1"].includes(url.searchParams.get("watch") ?? "");

  if (!path.name) {
    if (method === "GET") {
      const matches = selectorsOf(url);
      if (watch) {
        const timeout = url.searchParams.get("timeoutSeconds");
        serveWatch(
          ctx.store,
          {
            resource: path.resource,
            kind,
            namespace: ns,
            matches,
            resourceVersion: url.searchParams.get("resourceVersion") ?? "",
            timeoutSeconds: timeout ? Number(timeout) : undefined,
          },
          req,
          res,
        );
        return;
      }
      const items = ctx.store
        .list(path.resource, ns)
        .filter(matches)
        .map((o) => withKind(kind, o));
      sendJson(res, 200, {
        apiVersion: "v1",
        kind: `${kind}List`,
        metadata: { resourceVersion: String(ctx.store.resourceVersion) },
        items,
      });
      return;
    }
    if (method === "POST") {
      if (!ns) throw new ApiStatusError(405, "MethodNotAllowed", "create needs a namespace");
      const body = await readJson(req);
      if (!body?.metadata) throw badRequest("the request body must be an object with metadata");
      if (body.metadata.namespace && body.metadata.namespace !== ns) {
        throw badRequest(
          "the namespace of the provided object does not match the namespace sent on the request",
        );
      }
      validateObject(kind, body);
      if (kind === "Secret") normalizeSecret(body);
      if (kind === "Pod") body.status = { phase: "Pending" };
      if (kind === "PersistentVolumeClaim") admitClaim(body, ctx.storage);
      let created: KubeObject;
      try {
        created = ctx.store.create(path.resource, ns, { ...body, apiVersion: "v1", kind });
      } catch (err) {
        if (err instanceof ConflictError)
          throw new ApiStatusError(409, "AlreadyExists", err.message, { name: body.metadata.name, kind });
        throw err;
      }
      if (kind === "PersistentVolumeClaim") {
        // The fake's storage provisioner binds a claim of an existing class at once to a host directory.
        created = await provisionClaim(ctx.store, ctx.rootDir, created, ctx.storage);
      }
      sendJson(res, 201, withKind(kind, created));
      return;
    }
    throw new ApiStatusError(
      405,
      "MethodNotAllowed",
      `${method} is not supported on a collection by the fake`,
    );
  }

  const obj = ns ? ctx.store.get(path.resource, ns, path.name) : undefined;
  if (!obj || !ns) throw notFound(path.resource, path.name);
  if (path.subresource === "log" && kind === "Pod" && method === "GET") {
    await serveLog(ctx, obj, url, res);
    return;
  }
  if (path.subresource && !(path.subresource === "status" && method === "GET")) {
    throw new ApiStatusError(
      404,
      "NotFound",
      `subresource ${path.subresource} (${method}) is not served by the fake`,
    );
  }
  if (method === "GET") {
    sendJson(res, 200, withKind(kind, obj));
    return;
  }
  if (method === "DELETE") {
    const body = await readJson(req);
    const graceParam = url.searchParams.get("gracePeriodSeconds");
    const grace = graceParam !== null ? Number(graceParam) : body?.gracePeriodSeconds;
    const propagation = url.searchParams.get("propagationPolicy") ?? body?.propagationPolicy;
    // DeleteOptions.preconditions, as the API server checks them before deleting.
    const preconditions = body?.preconditions as { uid?: string; resourceVersion?: string } | undefined;
    const mismatch =
      preconditions?.uid && preconditions.uid !== obj.metadata.uid
        ? `UID in precondition: ${preconditions.uid}, UID in object meta: ${obj.metadata.uid}`
        : preconditions?.resourceVersion && preconditions.resourceVersion !== obj.metadata.resourceVersion
          ? `ResourceVersion in precondition: ${preconditions.resourceVersion}, ResourceVersion in object meta: ${obj.metadata.resourceVersion}`
          : undefined;
    if (mismatch)
      throw new ApiStatusError(
        409,
        "Conflict",
        `Operation cannot be fulfilled on ${path.resource} "${path.name}": Precondition failed: ${mismatch}`,
        { name: path.name, kind: path.resource },
      );
    sendJson(res, 200, withKind(kind, ctx.deleteObject(path.resource, ns, path.name, grace, propagation)));
    return;
  }
  if (method === "PATCH") {
    const patched = applyMergePatch(kind, obj, await readJson(req), req.headers["content-type"] ?? "");
    validateObject(kind, patched);
    if (kind === "Secret") normalizeSecret(patched);
    const stored = ctx.store.update(path.resource, ns, path.name, (o) => {
      for (const k of Object.keys(o)) delete o[k];
      Object.assign(o, patched);
    });
    sendJson(res, 200, withKind(kind, stored));
    return;
  }
  throw new ApiStatusError(405, "MethodNotAllowed", `${method} is not supported by the fake`);
}
