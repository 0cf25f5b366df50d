import type { IncomingMessage, ServerResponse } from "node:http";
import { ApiStatusError } from "./api-status.js";
import type { KubeObject, ObjectStore, StoreEvent } from "./object-store.js";

export interface WatchQuery {
  resource: string;
  kind: string;
  namespace?: string;
  matches: (obj: KubeObject) => boolean;
  /** "" or "0": start with the current objects as ADDED; a number: resume after it. */
  resourceVersion: string;
  timeoutSeconds?: number;
}

/**
 * Serves `?watch=true`: one JSON object per line (`{"type","object"}`), kept open until
 * the client goes away or timeoutSeconds passes. Like the watch cache, an object that stops
 * matching the selector arrives as DELETED and one that starts matching as ADDED.
 */
export function serveWatch(
  store: ObjectStore,
  query: WatchQuery,
  req: IncomingMessage,
  res: ServerResponse,
): void {
  const inScope = (o: KubeObject) =>
    query.namespace === undefined || o.metadata.namespace === query.namespace;
  const send = (type: string, object: unknown) => res.write(`${JSON.stringify({ type, object })}\n`);
  const withKind = (o: KubeObject) => ({ apiVersion: "v1", kind: query.kind, ...o });

  const forward = (e: StoreEvent) => {
    if (e.resource !== query.resource || !inScope(e.object)) return;
    const now = query.matches(e.object);
    const before = e.previous ? query.matches(e.previous) : e.type !== "ADDED" && now;
    if (e.type === "MODIFIED") {
      if (now && before) send("MODIFIED", withKind(e.object));
      else if (now) send("ADDED", withKind(e.object));
      else if (before) send("DELETED", withKind(e.object));
    } else if (now) send(e.type, withKind(e.object));
  };

  const rv = query.resourceVersion;
  if (rv !== "" && rv !== "0") {
    const since = Number(rv);
    if (!Number.isInteger(since) || since < 0) {
      const err = new ApiStatusError(400, "BadRequest", `invalid resourceVersion "${rv}"`);
      res.writeHead(400, { "Content-Type": "application/json" }).end(JSON.stringify(err.toStatus()));
      return;
    }
    res.writeHead(200, { "Content-Type": "application/json", "Transfer-Encoding": "chunked" });
    res.flushHeaders();
    if (since < store.oldestResumableVersion) {
      send("ERROR", new ApiStatusError(410, "Expired", `too old resource version: ${since}`).toStatus());
      res.end();
      return;
    }
    for (const e of store.eventsSince(since)) forward(e);
  } else {
    res.writeHead(200, { "Content-Type": "application/json", "Transfer-Encoding": "chunked" });
    res.flushHeaders();
    for (const o of store.list(query.resource, query.namespace))
      if (query.matches(o)) send("ADDED", withKind(o));
  }
  // Subscribing after the replay is safe: the store is only changed from this event loop turn onwards.
  const unsubscribe = store.subscribe(forward);
  const timer = query.timeoutSeconds ? setTimeout(() => res.end(), query.timeoutSeconds * 1000) : undefined;
  const stop = () => {
    unsubscribe();
    if (timer) clearTimeout(timer);
  };
  req.on("close", stop);
  res.on("close", stop);
}
