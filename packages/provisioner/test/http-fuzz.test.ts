import http from "node:http";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { api, startTestProvisioner, type TestProvisioner } from "./fixture.js";

/*
 * Bad input, every route of the provisioner's API: whatever the path, query, headers, body and content
 * type, the answer is never a 5xx, every refusal is problem+json, and what was stored before is still
 * there afterwards. All real: the fastify app listening on loopback, the Provisioner, PGlite, the
 * local backend — with one worker slot, so the builds the fuzz queues wait their turn instead of
 * starting dozens of worker processes.
 */

const TOKEN = "fuzz-token-41b7";
let p: TestProvisioner;
let agent: http.Agent;
let kept: { workerId: string; buildRef: number };

beforeAll(async () => {
  p = await startTestProvisioner({ token: TOKEN, autoStart: false, maxWorkers: 1 });
  // One connection per request: a refusal that closes its connection cannot fail the next case.
  agent = new http.Agent({ keepAlive: false });
  const res = await api(p.url, "POST", "/api/worker?BUILD_REF=1000&GIT_FULLURL=x", { token: TOKEN });
  expect(res.status).toBe(201);
  kept = res.json;
});
afterAll(async () => {
  agent?.destroy();
  await p?.close();
});

interface Answer {
  status: number;
  type: string;
  body: string;
}

/** One request with the path sent byte for byte (fetch would normalise it). */
function raw(
  method: string,
  path: string,
  init: { headers?: Record<string, string>; body?: Buffer } = {},
): Promise<Answer> {
  const { hostname, port } = new URL(p.url);
  return new Promise((resolve, reject) => {
    const req = http.request({ host: hostname, port, method, path, agent, headers: init.headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () =>
        resolve({
          status: res.statusCode ?? 0,
          type: String(res.headers["content-type"] ?? ""),
          body: Buffer.concat(chunks).toString("utf8"),
        }),
      );
    });
    req.on("error", reject);
    req.end(init.body);
  });
}

/** Never a 5xx; a refusal is problem+json that says so and does not echo the token. */
function wellRefused(a: Answer, method: string): boolean {
  if (a.status >= 500) return false;
  if (a.status >= 400 && method !== "HEAD") {
    if (!a.type.startsWith("application/problem+json")) return false;
    const problem = JSON.parse(a.body) as { status: number; code: string };
    if (problem.status !== a.status || typeof problem.code !== "string") return false;
  }
  return !a.body.includes(TOKEN);
}

const report = (a: Answer) => `${a.status} ${a.type} ${a.body.slice(0, 300)}`;

async function check(method: string, path: string, init?: Parameters<typeof raw>[2]): Promise<void> {
  const a = await raw(method, path, init);
  if (!wellRefused(a, method)) throw new Error(`${method} ${path.slice(0, 200)} → ${report(a)}`);
}

// Strings as a client may send them: ASCII noise, unicode, control characters, percent escapes (valid
// or not), and the values the API knows.
const noise = fc.oneof(
  fc.string({ maxLength: 30 }),
  fc.string({ unit: "grapheme", maxLength: 12 }),
  fc.string({ unit: "binary", maxLength: 12 }),
  fc.constantFrom(
    "",
    "0",
    "-1",
    "1e3",
    "99999999999999999999",
    "Queued,Running",
    "null",
    "%",
    "%E0%A4%A",
    "%00",
    "%ZZ",
  ),
);
const encoded = noise.map((s) => encodeURIComponent(s));
/** Raw characters that are legal in a request target, percent signs left as they are. */
const rawish = fc
  .array(fc.constantFrom(..."abcAZ09_-.~%&=+?/[]{}:;,'\"!$()*@|^`".split(""), "%00", "%FF", "%E0%A4%A"), {
    maxLength: 30,
  })
  .map((a) => a.join(""));
const value = fc.oneof(encoded, rawish);
const knownParams = [
  "BUILD_REF",
  "GIT_FULLURL",
  "GIT_BRANCH",
  "GIT_TOKEN",
  "REPO_NAME",
  "REPO_GROUP",
  "REPO_BRANCH",
  "RUN_STAGES",
  "VARS",
  "WHARF_INSTANCE",
  "WHARF_PROJECT_ID",
  "ENVIRONMENT",
  "status",
  "instance",
  "buildRef",
  "outcome",
  "token",
];
const paramName = fc.oneof(fc.constantFrom(...knownParams), encoded);
const query = fc
  .array(fc.tuple(paramName, value), { maxLength: 8 })
  .map((pairs) => pairs.map(([k, v]) => `${k}=${v}`).join("&"));
const method = fc.constantFrom("GET", "POST", "DELETE", "PUT", "PATCH", "HEAD", "OPTIONS");
const auth = fc.constantFrom<"bearer" | "query" | "wrong" | "none">("bearer", "query", "wrong", "none");
const contentType = fc.oneof(
  fc.constantFrom(
    "application/json",
    "application/json; charset=utf-8",
    "text/plain",
    "application/x-www-form-urlencoded",
    "multipart/form-data; boundary=x",
    "application/octet-stream",
    "application/problem+json",
    "",
    "application/json; charset=latin1",
    "*/*",
  ),
  fc.string({ maxLength: 20 }).filter((s) => /^[\x20-\x7e]*$/.test(s)),
);
const body = fc.oneof(
  fc.constant(undefined),
  fc.jsonValue({ maxDepth: 3 }).map((v) => Buffer.from(JSON.stringify(v) ?? "null")),
  fc.uint8Array({ maxLength: 200 }).map((b) => Buffer.from(b)),
  fc
    .constantFrom(
      '{"buildRefs":[1,2]}',
      '{"buildRefs":[-1, 1e300, "x"]}',
      '{"builds":[{"buildId":1},{"buildRef":2}]}',
      '{"__proto__":{"x":1}}',
      '{"constructor":{"prototype":{}}}',
      "[1,2,3]",
      "[]",
      "{}",
      "[[[[[[[[[[]]]]]]]]]]",
    )
    .map((s) => Buffer.from(s)),
);

function headersFor(a: "bearer" | "query" | "wrong" | "none", type?: string): Record<string, string> {
  const h: Record<string, string> = {};
  if (a === "bearer") h.authorization = `Bearer ${TOKEN}`;
  if (a === "wrong") h.authorization = `Bearer ${TOKEN}x`;
  if (type) h["content-type"] = type;
  return h;
}
const withToken = (a: string, q: string) => (a === "query" ? `token=${TOKEN}&${q}` : q);

describe("the provisioner's HTTP API under arbitrary input (fuzz)", () => {
  it("never answers 5xx to arbitrary query strings", async () => {
    await fc.assert(
      fc.asyncProperty(rawish, fc.constantFrom("POST", "GET"), async (q, m) => {
        await check(m, `/api/worker?token=${TOKEN}&${q}`);
      }),
      { numRuns: 150 },
    );
  });

  it("POST /api/worker: arbitrary parameters, bodies and content types", async () => {
    await fc.assert(
      fc.asyncProperty(query, auth, body, contentType, async (q, a, b, type) => {
        await check("POST", `/api/worker?${withToken(a, q)}`, {
          headers: headersFor(a, b ? type : undefined),
          ...(b ? { body: b } : {}),
        });
      }),
      { numRuns: 300 },
    );
  });

  it("POST /api/worker: a valid build with arbitrary text in every other parameter", async () => {
    const text = knownParams.slice(1, 12).filter((k) => k !== "WHARF_PROJECT_ID");
    const fields = fc.record(Object.fromEntries(text.map((k) => [k, value])), { requiredKeys: [] });
    await fc.assert(
      fc.asyncProperty(
        fields,
        fc.nat({ max: 1_000_000 }),
        fc.option(fc.nat({ max: 1_000_000 })),
        async (f, ref, project) => {
          const q = Object.entries({
            ...f,
            GIT_FULLURL: f.GIT_FULLURL || "x",
            BUILD_REF: String(ref),
            ...(project !== null ? { WHARF_PROJECT_ID: String(project) } : {}),
          })
            .map(([k, v]) => `${k}=${v}`)
            .join("&");
          await check("POST", `/api/worker?${q}`, { headers: headersFor("bearer") });
        },
      ),
      { numRuns: 300 },
    );
  });

  // Found by the properties above: PostgreSQL text cannot hold NUL, and each of these was a 500.
  it.each([
    ["POST", "/api/worker?BUILD_REF=1&GIT_FULLURL=a%00b", "GIT_FULLURL"],
    ["POST", "/api/worker?BUILD_REF=2&GIT_FULLURL=a&WHARF_INSTANCE=%00", "WHARF_INSTANCE"],
    ["POST", "/api/worker?BUILD_REF=3&GIT_FULLURL=a&GIT_TOKEN=secret%00", "GIT_TOKEN"],
    ["POST", `/api/worker?BUILD_REF=4&GIT_FULLURL=a&VARS=${encodeURIComponent('a: "x\\0y"')}`, "VARS"],
    ["POST", `/api/worker?BUILD_REF=5&GIT_FULLURL=a&VARS=${encodeURIComponent('"a\\0": b')}`, "VARS"],
    ["GET", "/api/worker?instance=%00", "instance"],
    ["POST", "/api/worker/missing?instance=%00", "instance"],
    ["DELETE", "/api/worker/%00", "workerId"],
  ])("refuses a NUL character: %s %s", async (m, path, param) => {
    const a = await raw(m, path, {
      headers: headersFor("bearer", "application/json"),
      ...(m === "POST" ? { body: Buffer.from("[1]") } : {}),
    });
    expect(a.status).toBe(400);
    expect(JSON.parse(a.body)).toMatchObject({ status: 400, param });
    expect(a.body).not.toContain("secret");
    const body = await raw("POST", "/api/worker/missing", {
      headers: headersFor("bearer", "application/json"),
      body: Buffer.from(JSON.stringify({ buildRefs: [1], instance: "a\u0000" })),
    });
    expect(body.status).toBe(400);
    expect(JSON.parse(body.body)).toMatchObject({ code: "invalid-body", param: "instance" });
  });

  it("POST /api/worker/missing: arbitrary bodies, content types and query", async () => {
    await fc.assert(
      fc.asyncProperty(query, auth, body, contentType, async (q, a, b, type) => {
        await check("POST", `/api/worker/missing?${withToken(a, q)}`, {
          headers: headersFor(a, b ? type : undefined),
          ...(b ? { body: b } : {}),
        });
      }),
      { numRuns: 200 },
    );
  });

  it("GET and DELETE /api/worker/:id, GET /api/worker: arbitrary ids and filters", async () => {
    const id = fc.oneof(
      encoded,
      rawish,
      fc.string({ minLength: 190, maxLength: 260 }).map(encodeURIComponent),
    );
    await fc.assert(
      fc.asyncProperty(fc.constantFrom("GET", "DELETE"), id, query, auth, async (m, workerId, q, a) => {
        await check(m, `/api/worker/${workerId}?${withToken(a, q)}`, { headers: headersFor(a) });
        await check("GET", `/api/worker?${withToken(a, q)}`, { headers: headersFor(a) });
      }),
      { numRuns: 200 },
    );
  });

  it("DELETE of a worker that exists, with arbitrary outcomes and query", async () => {
    const outcome = fc.oneof(fc.constantFrom("Success", "Failed", "Cancelled", "success", ""), value);
    // Above every ref the other properties post (at most 1 000 000): a ref already used answers 200
    // with its worker (a repeated POST within retention), which is not what this property is about.
    let ref = 5_000_000;
    await fc.assert(
      fc.asyncProperty(outcome, query, async (o, q) => {
        const created = await api(p.url, "POST", `/api/worker?BUILD_REF=${ref++}&GIT_FULLURL=x`, {
          token: TOKEN,
        });
        expect(created.status).toBe(201);
        const { workerId } = created.json as { workerId: string };
        await check("DELETE", `/api/worker/${workerId}?outcome=${o}&${q}`, { headers: headersFor("bearer") });
        await check("DELETE", `/api/worker/${workerId}?outcome=${o}`, { headers: headersFor("bearer") });
      }),
      { numRuns: 60 },
    );
  });

  it("every route, and none: arbitrary methods, paths, headers", async () => {
    const route = fc.constantFrom(
      "/",
      "/healthz",
      "/readyz",
      "/metrics",
      "/api/worker",
      "/api/worker/missing",
      "/api/worker/x",
      "/api/docs",
      "/api/docs/json",
      "/api/docs/static/index.html",
      "/api/docs/static/../../../etc/passwd",
      "/api",
      "",
    );
    const header = fc.record(
      {
        authorization: fc.oneof(
          fc.constant(`Bearer ${TOKEN}`),
          fc.constant("Bearer"),
          fc.constant("Basic Zm9v"),
        ),
        accept: fc.constantFrom("*/*", "application/json", "text/event-stream", "\u00e9"),
        "x-forwarded-for": fc.constantFrom("1.2.3.4", "not an address", ""),
      },
      { requiredKeys: [] },
    );
    await fc.assert(
      fc.asyncProperty(method, route, rawish, query, header, async (m, r, tail, q, h) => {
        const headers = Object.fromEntries(Object.entries(h).filter(([, v]) => /^[\x20-\x7e]*$/.test(v)));
        const path = `${r}${tail}?${q}`;
        // A request line without a path gets a 400 with a body, which a HEAD client cannot read.
        await check(m === "HEAD" && !path.startsWith("/") ? "GET" : m, path, { headers });
      }),
      { numRuns: 300 },
    );
  });

  it("still has what was stored before, and still answers", async () => {
    const list = await api(p.url, "GET", "/api/worker?buildRef=1000", { token: TOKEN });
    expect(list.status).toBe(200);
    expect(list.json).toEqual([expect.objectContaining({ workerId: kept.workerId, buildRef: 1000 })]);
    expect((await api(p.url, "GET", "/readyz")).status).toBe(200);
  });
});
