import fs from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import { type Database, openDatabase } from "@wharf/db";
import { signBuildLink, WharfApiLogSource, WorkerLogSource } from "@wharf/log-viewer";
import { BuildRecordStore, migrateRelay } from "@wharf/relay";
import { ResultStore } from "@wharf/result-store";
import { startWorkerRpcServer, type WorkerRpcServer } from "@wharf/worker-rpc";
import fc from "fast-check";
import type { FastifyInstance } from "fastify";
import { Registry } from "prom-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildAggregatorHttpApp } from "../src/index.js";

/*
 * Bad input, every route of the aggregator's HTTP app (health, readiness, metrics, the log viewer's
 * logs, event stream, summary, page and assets): whatever the path, query and headers, with or
 * without the token, the answer is never a 5xx and every refusal is problem+json. Real parts: a
 * running build in a ResultStore served by the worker's gRPC server, a wharf-api stand-in for a
 * finished build's history, the build list from the relay's records in PGlite, and the app
 * listening on loopback.
 */

const TOKEN = "agg-fuzz-token-3e9a";
const LIVE = "42";
const FINISHED = "7";
let dir: string;
let store: ResultStore;
let rpc: WorkerRpcServer;
let wharfApi: http.Server;
let app: FastifyInstance;
let base: URL;
let db: Database;

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "wharf-agg-fuzz-"));
  store = await ResultStore.open(dir, { buildRef: LIVE, flushIntervalMs: 2 });
  store.setSteps([{ stepId: 1, stage: "build", name: "compile" }]);
  store.appendStatus(0, "RUNNING");
  for (let n = 1; n <= 20; n++) store.appendLog(1, `line ${n} \u001b[31mred\u001b[0m`);
  rpc = await startWorkerRpcServer({ store, host: "127.0.0.1", port: 0, shutdownGraceMs: 200 });
  // wharf-api as the history of build 7 (finished); every other build is unknown there.
  wharfApi = http.createServer((req, res) => {
    const send = (status: number, body: unknown) =>
      res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(body));
    if (req.url === `/api/build/${FINISHED}`) return send(200, { status: "Completed" });
    if (req.url === `/api/build/${FINISHED}/log`)
      return send(200, [{ logId: 1, message: "old line", timestamp: "2026-01-01T00:00:00Z" }]);
    return send(404, { title: "not found" });
  });
  await new Promise<void>((r) => wharfApi.listen(0, "127.0.0.1", r));
  const apiUrl = `http://127.0.0.1:${(wharfApi.address() as AddressInfo).port}`;
  const address = `127.0.0.1:${rpc.port}`;
  db = await openDatabase({ dataDir: path.join(dir, "db") });
  await migrateRelay(db);
  const records = new BuildRecordStore(db);
  await records.save(
    {
      buildId: Number(LIVE),
      workerId: "w",
      status: "RUNNING",
      finished: false,
      message: "",
      startedAt: 1,
      finishedAt: null,
    },
    [],
  );
  app = buildAggregatorHttpApp({
    builds: { recent: (q) => records.recent(q) },
    logSource: new WorkerLogSource({
      resolveWorker: async (id) => (id === Number(LIVE) ? { address } : null),
      history: new WharfApiLogSource({ url: apiUrl, pollIntervalMs: 50 }),
      retryIntervalMs: 50,
    }),
    viewerToken: TOKEN,
    ready: () => true,
    registry: new Registry(),
    maxUrlLength: 1024,
  });
  base = new URL(await app.listen({ host: "127.0.0.1", port: 0 }));
});
afterAll(async () => {
  await app?.close();
  await rpc?.close();
  await store?.close();
  await db?.close();
  await new Promise((r) => wharfApi?.close(r));
  fs.rmSync(dir, { recursive: true, force: true });
});

interface Answer {
  status: number;
  type: string;
  body: string;
}

/**
 * One request, the path sent byte for byte, on its own connection. A success is not read to its end
 * (an event stream of a running build never ends): its status is enough.
 */
function raw(method: string, target: string, headers: Record<string, string> = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: base.hostname, port: base.port, method, path: target, headers, agent: false },
      (res) => {
        const status = res.statusCode ?? 0;
        const type = String(res.headers["content-type"] ?? "");
        if (status < 400 || method === "HEAD") {
          res.destroy();
          resolve({ status, type, body: "" });
          return;
        }
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => resolve({ status, type, body: Buffer.concat(chunks).toString("utf8") }));
      },
    );
    req.on("error", reject);
    // A request that never answers fails its case by name (shrunk), not the whole run by the test's timeout.
    req.setTimeout(5_000, () =>
      req.destroy(new Error(`no answer in 5 s: ${method} ${target.slice(0, 200)}`)),
    );
    req.end();
  });
}

async function check(method: string, target: string, headers: Record<string, string> = {}): Promise<void> {
  const a = await raw(method, target, headers);
  let ok = a.status < 500;
  if (ok && a.status >= 400 && method !== "HEAD") {
    ok = a.type.startsWith("application/problem+json") && JSON.parse(a.body).status === a.status;
    ok &&= !a.body.includes(TOKEN);
  }
  if (!ok)
    throw new Error(
      `${method} ${target.slice(0, 200)} ${JSON.stringify(headers)} → ${a.status} ${a.type} ${a.body.slice(0, 300)}`,
    );
}

const noise = fc.oneof(
  fc.string({ maxLength: 20 }),
  fc.string({ unit: "grapheme", maxLength: 8 }),
  fc.constantFrom(
    "",
    "0",
    "-1",
    "1.5",
    "true",
    "false",
    "99999999999999999999",
    "%",
    "%00",
    "%E0%A4%A",
    "..",
  ),
);
const encoded = noise.map(encodeURIComponent);
const rawish = fc
  .array(fc.constantFrom(..."abcAZ09_-.~%&=+?/[]{}:;,'\"!$()*@|^`".split(""), "%00", "%FF", "%E0%A4%A"), {
    maxLength: 24,
  })
  .map((a) => a.join(""));
const ref = fc.oneof(
  fc.constantFrom(LIVE, FINISHED, "8", "-", "..", ".", "a".repeat(128), "a".repeat(129), "a".repeat(250)),
  encoded,
  rawish,
);
const queryValue = fc.oneof(
  encoded,
  rawish,
  fc.constantFrom(
    "true",
    "false",
    "0",
    "5",
    "20",
    "21",
    "text",
    "sse",
    "keep",
    "strip",
    "FAILED,running",
    "500",
  ),
);
const queryName = fc.oneof(
  fc.constantFrom("follow", "after", "format", "ansi", "step", "status", "limit", "token", "expires", "sig"),
  encoded,
);
const query = fc
  .array(fc.tuple(queryName, queryValue), { maxLength: 6 })
  .map((pairs) => pairs.map(([k, v]) => `${k}=${v}`).join("&"));
const route = fc.constantFrom(
  (r: string) => `/api/builds/${r}/logs`,
  (r: string) => `/api/builds/${r}/summary`,
  (r: string) => `/builds/${r}`,
  (r: string) => `/builds/${r}/`,
  (r: string) => `/api/builds/${r}`,
  () => "/builds/-/viewer.js",
  () => "/builds/-/viewer.css",
  () => "/builds/-/build-list.js",
  () => "/builds/-/theme.css",
  () => "/builds",
  () => "/api/builds",
  () => "/",
  () => "/healthz",
  () => "/readyz",
  () => "/metrics",
  (r: string) => `/${r}`,
);
const printable = (s: string) => /^[\x20-\x7e]*$/.test(s);
const link = signBuildLink(TOKEN, LIVE, Math.floor(Date.now() / 1000) + 3600);
const access = fc.constantFrom(
  {},
  { authorization: `Bearer ${TOKEN}` },
  { authorization: `bearer ${TOKEN}x` },
  { authorization: "Bearer" },
  { cookie: `wharf_token=${TOKEN}` },
  { cookie: `wharf_link_${LIVE}=${link.replace("expires=", "").replace("&sig=", ".")}` },
  { cookie: "wharf_link_42=..; =; ;;wharf_token" },
);
const extraHeaders = fc.record(
  {
    accept: fc.oneof(
      fc.constantFrom("text/event-stream", "*/*", "text/html", "TEXT/EVENT-STREAM;q=0.1"),
      noise,
    ),
    "last-event-id": fc.oneof(
      fc.constantFrom("0", "5", "20", "21", "-1", "1e3", "999999999999999", "9999999999999999"),
      noise,
    ),
  },
  { requiredKeys: [] },
);

describe("the aggregator's HTTP app under arbitrary input (fuzz)", () => {
  it("every route: arbitrary refs, queries, headers and credentials", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom("GET", "GET", "GET", "HEAD", "POST", "DELETE", "OPTIONS"),
        route,
        ref,
        query,
        access,
        extraHeaders,
        fc.boolean(),
        async (m, r, buildRef, q, creds, extra, tokenInQuery) => {
          const target = `${r(buildRef)}?${tokenInQuery ? `token=${TOKEN}&` : ""}${q}`;
          const headers = Object.fromEntries(
            Object.entries({ ...creds, ...extra }).filter(([, v]) => printable(v)),
          ) as Record<string, string>;
          await check(m, target, headers);
        },
      ),
      // FUZZ_RUNS=10000 searches longer (a HEAD of an event stream that never answered needed ~700 to ~2300).
      { numRuns: Number(process.env.FUZZ_RUNS ?? 300) },
    );
  });

  it("the live build's logs, event stream and summary with arbitrary resume points and formats", async () => {
    await fc.assert(
      fc.asyncProperty(query, extraHeaders, fc.constantFrom(LIVE, FINISHED), async (q, extra, buildRef) => {
        const headers = Object.fromEntries(Object.entries(extra).filter(([, v]) => printable(v)));
        await check("GET", `/api/builds/${buildRef}/logs?${q}`, {
          ...headers,
          authorization: `Bearer ${TOKEN}`,
        });
      }),
      { numRuns: 200 },
    );
  });

  it("answers HEAD of an event stream with its headers at once, also one that would follow a live build", async () => {
    const auth = { authorization: `Bearer ${TOKEN}`, accept: "text/event-stream" };
    for (const target of ["/api/builds", "/api/builds?follow=true", `/api/builds/${LIVE}/logs?follow=true`]) {
      const a = await raw("HEAD", target, auth);
      expect(a.status, target).toBe(200);
      expect(a.type, target).toContain("text/event-stream");
    }
  });

  it("refuses oversized URLs with 414 problem+json, before the token check, without echoing them", async () => {
    const a = await raw("GET", `/api/builds/${LIVE}/logs?token=${TOKEN}&pad=${"p".repeat(1100)}`);
    expect(a.status).toBe(414);
    expect(a.type).toContain("application/problem+json");
    expect(a.body).not.toContain(TOKEN);
    const long = await raw("GET", `/builds/${"r".repeat(300)}`, { authorization: `Bearer ${TOKEN}` });
    expect(long.status).toBe(414);
    expect(long.type).toContain("application/problem+json");
    const bad = await raw("GET", "/builds/%E0%A4%A", { authorization: `Bearer ${TOKEN}` });
    expect(bad.status).toBe(400);
    expect(bad.type).toContain("application/problem+json");
    const unknown = await raw("GET", "/nothing/here", { authorization: `Bearer ${TOKEN}` });
    expect(unknown.status).toBe(404);
    expect(unknown.type).toContain("application/problem+json");
  });

  it("still serves the live build and its health afterwards", async () => {
    expect((await fetch(new URL("/healthz", base))).status).toBe(200);
    const summary = await fetch(new URL(`/api/builds/${LIVE}/summary`, base), {
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    expect(summary.status).toBe(200);
    expect(await summary.json()).toMatchObject({ buildRef: LIVE, lastLogId: 20, finished: false });
  });
});
