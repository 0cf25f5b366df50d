import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { api, startTestProvisioner, type TestProvisioner } from "./fixture.js";

// One worker slot each: the builds these requests queue (real PGlite) mostly wait their turn.
const TOKEN = "limits-token-7c1d";
let authed: TestProvisioner;
let open: TestProvisioner;

beforeAll(async () => {
  authed = await startTestProvisioner({ token: TOKEN, maxWorkers: 1, triggerRate: 3, maxUrlLength: 1024 });
  open = await startTestProvisioner({ maxWorkers: 1, triggerRate: 2 });
});
afterAll(async () => {
  await authed?.close();
  await open?.close();
});

const trigger = (p: TestProvisioner, ref: number, token?: string) =>
  api(p.url, "POST", `/api/worker?BUILD_REF=${ref}&GIT_FULLURL=x`, token ? { token } : {});

describe("per-token rate limit on POST /api/worker", () => {
  it("answers 429 problem+json with Retry-After past the limit, and counts retries", async () => {
    expect((await trigger(authed, 1, TOKEN)).status).toBe(201);
    // A retry of the same build returns the existing worker, and counts.
    expect((await trigger(authed, 1, TOKEN)).status).toBe(200);
    expect((await trigger(authed, 2, TOKEN)).status).toBe(201);

    const res = await fetch(`${authed.url}/api/worker?BUILD_REF=3&GIT_FULLURL=x`, {
      method: "POST",
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    expect(res.status).toBe(429);
    expect(res.headers.get("content-type")).toContain("application/problem+json");
    const retryAfter = Number(res.headers.get("retry-after"));
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(60);
    const problem = (await res.json()) as { status: number; code: string; detail: string };
    expect(problem).toMatchObject({ status: 429, code: "too-many-requests" });
    expect(problem.detail).not.toContain(TOKEN);
    expect(JSON.stringify([...res.headers])).not.toContain(TOKEN);

    // The same token in the query is the same client.
    expect(
      (await api(authed.url, "POST", `/api/worker?BUILD_REF=4&GIT_FULLURL=x&token=${TOKEN}`)).status,
    ).toBe(429);
    // Nothing refused was stored: build 3 and 4 were never queued.
    const refs = (await authed.provisioner.listWorkers()).map((w) => w.buildRef).sort();
    expect(refs).toEqual([1, 2]);
  });

  it("limits only the trigger: other routes, and refused tokens, are not affected", async () => {
    expect((await api(authed.url, "GET", "/api/worker", { token: TOKEN })).status).toBe(200);
    expect((await api(authed.url, "POST", "/api/worker/missing", { token: TOKEN, body: [1] })).status).toBe(
      200,
    );
    // A wrong token is refused before it is counted (and before the limit could answer).
    expect((await trigger(authed, 9, "not-the-token")).status).toBe(401);
  });

  it("keeps one bucket per token: another token is unaffected", async () => {
    // Without auth every presented token is its own client (and no token: the address).
    expect((await trigger(open, 10, "token-a")).status).toBe(201);
    expect((await trigger(open, 11, "token-a")).status).toBe(201);
    expect((await trigger(open, 12, "token-a")).status).toBe(429);
    expect((await trigger(open, 12, "token-b")).status).toBe(201);
    expect((await trigger(open, 13)).status).toBe(201);
    expect((await trigger(open, 14, "token-b")).status).toBe(201);
    expect((await trigger(open, 15, "token-b")).status).toBe(429);
  });
});

describe("URL length limit", () => {
  it("answers 414 problem+json to a long URL, before the token check, without echoing it", async () => {
    const secret = `GIT_TOKEN=${"s".repeat(1100)}`;
    for (const [method, path] of [
      ["POST", `/api/worker?BUILD_REF=5&GIT_FULLURL=x&${secret}`],
      ["GET", `/api/worker?${secret}`],
      ["GET", `/${"a".repeat(1100)}`],
    ] as const) {
      const res = await api(authed.url, method, path);
      expect(res.status).toBe(414);
      expect(res.type).toContain("application/problem+json");
      expect(res.json).toMatchObject({ status: 414, code: "uri-too-long" });
      expect(res.text).not.toContain("sss");
      expect(res.text).not.toContain("aaa");
    }
    // Just under the limit goes on to the token check.
    expect((await api(authed.url, "GET", `/api/worker?x=${"a".repeat(900)}`)).status).toBe(401);
  });

  it("answers problem+json to what the router refuses: a long worker id, a bad escape", async () => {
    const long = await api(authed.url, "DELETE", `/api/worker/${"w".repeat(300)}`, { token: TOKEN });
    expect(long.status).toBe(414);
    expect(long.type).toContain("application/problem+json");
    expect(long.json).toMatchObject({ status: 414, code: "uri-too-long" });
    const bad = await api(authed.url, "DELETE", "/api/worker/%E0%A4%A", { token: TOKEN });
    expect(bad.status).toBe(400);
    expect(bad.type).toContain("application/problem+json");
    expect(bad.json).toMatchObject({ status: 400, code: "bad-request" });
  });
});
