import http, { type IncomingMessage } from "node:http";
import https from "node:https";
import type { Writable } from "node:stream";
import { ApiException, type KubeConfig } from "@kubernetes/client-node";
import { ApiTimeoutError, type KubeApiCalls } from "./kube-api.js";
import { KubeletLogLines } from "./kubelet-log-lines.js";

export interface LogTarget {
  namespace: string;
  pod: string;
  container: string;
}

const MAX_ERROR_BODY = 64 * 1024;

/**
 * GET pods/log with follow and timestamps; resolves with the response once the server
 * answered 200, rejects with ApiException for another answer and ApiTimeoutError when
 * there is no answer within `timeoutMs` (the request is then destroyed). The body (the
 * followed log) has no time limit.
 */
async function openLog(
  kc: KubeConfig,
  target: LogTarget,
  timeoutMs: number,
  signal: AbortSignal,
  sinceTime?: string,
): Promise<IncomingMessage> {
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new Error("no current cluster in the kubeconfig");
  const opts: https.RequestOptions = {};
  await kc.applyToHTTPSOptions(opts);
  const url = new URL(
    `${cluster.server.replace(/\/+$/, "")}/api/v1/namespaces/${encodeURIComponent(target.namespace)}/pods/${encodeURIComponent(target.pod)}/log`,
  );
  url.searchParams.set("container", target.container);
  url.searchParams.set("follow", "true");
  url.searchParams.set("timestamps", "true");
  if (sinceTime) url.searchParams.set("sinceTime", sinceTime);
  const request = url.protocol === "https:" ? https.request : http.request;
  return new Promise<IncomingMessage>((resolve, reject) => {
    const req = request(url, {
      method: "GET",
      agent: opts.agent,
      headers: opts.headers,
      auth: opts.auth,
      signal,
    });
    const timer = setTimeout(
      () =>
        req.destroy(
          new ApiTimeoutError(`follow the log of pod ${target.pod}: no answer within ${timeoutMs} ms`),
        ),
      timeoutMs,
    );
    // `on`, not `once`: an aborted or reset request may report more than one error.
    req.on("error", (err) => {
      clearTimeout(timer);
      reject(err);
    });
    req.once("response", (res) => {
      if (res.statusCode === 200) {
        clearTimeout(timer);
        resolve(res);
        return;
      }
      let text = "";
      res.on("data", (d: Buffer) => {
        if (text.length < MAX_ERROR_BODY) text += d.toString();
      });
      res.once("end", () => {
        clearTimeout(timer);
        let message = text.trim() || `HTTP ${res.statusCode}`;
        try {
          message = (JSON.parse(text) as { message?: string }).message ?? message;
        } catch {
          // not a Status: keep the text
        }
        const headers = Object.fromEntries(
          Object.entries(res.headers).map(([k, v]) => [k, Array.isArray(v) ? v.join(", ") : (v ?? "")]),
        );
        reject(new ApiException(res.statusCode ?? 0, message, text, headers));
      });
      res.on("error", (err) => {
        clearTimeout(timer);
        reject(err);
      });
    });
    req.end();
  });
}

/** RFC3339 without the fraction (what `sinceTime` takes), at or before `ts`. */
const wholeSecond = (ts: string) => ts.replace(/\.\d+(?=Z|[+-]\d\d:\d\d$)/, "");

/**
 * Follows a container's log into `sink` (only the container's lines, see KubeletLogLines),
 * ending `sink` when the log ends. Opening the follow is a read: bounded in time, retried on
 * transient errors; a failure to open rejects. When the followed body breaks off (connection
 * reset, API server restart) before its end, it is opened again from the last line's time
 * (`sinceTime`; lines up to that line are dropped), with the same retries; if that fails,
 * `sink` gets a `[wharf]` note and ends. `abort` stops following without ending `sink`.
 */
export async function followContainerLog(
  kc: KubeConfig,
  calls: KubeApiCalls,
  target: LogTarget,
  sink: Writable,
): Promise<AbortController> {
  const abort = new AbortController();
  const open = (after?: string) =>
    calls.retry(`follow the log of pod ${target.pod}`, () =>
      openLog(kc, target, calls.policy.requestTimeoutMs, abort.signal, after && wholeSecond(after)),
    );
  const pump = (res: IncomingMessage, after?: string) => {
    const lines = new KubeletLogLines(after);
    lines.on("data", (chunk: Buffer) => {
      if (abort.signal.aborted || sink.writableEnded) return;
      if (!sink.write(chunk)) {
        lines.pause();
        sink.once("drain", () => lines.resume());
      }
    });
    lines.once("end", () => {
      if (abort.signal.aborted) return;
      if (sink.writableEnded) return;
      if (res.complete) {
        sink.end();
        return;
      }
      const resumeAfter = lines.lastTimestamp ?? after;
      open(resumeAfter).then(
        (next) => pump(next, resumeAfter),
        (err: Error) => {
          if (abort.signal.aborted || sink.writableEnded) return;
          sink.end(`[wharf] the log of pod ${target.pod} broke off: ${err.message}\n`);
        },
      );
    });
    // A body that breaks off ends `lines` too (res 'close' without 'end'): `complete` tells.
    res.on("error", () => {});
    res.once("close", () => lines.end());
    res.pipe(lines, { end: false });
  };
  pump(await open());
  return abort;
}
