import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { makePipelineRepo } from "@wharf/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { api, startTestProvisioner, type TestProvisioner, waitFor, wharfApiQuery } from "./fixture.js";
import { SLEEPING_PIPELINE } from "./git-repo.js";

const TOKEN = "s3cret-token";
let p: TestProvisioner;
let tmp: string;
let sleeping: string;

// Workers are the real `wharf worker serve` (local backend); most builds here
// fail at checkout (GIT_FULLURL=x), which is all the API tests need.
beforeAll(async () => {
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), "wharf-prov-api-"));
  sleeping = await makePipelineRepo(path.join(tmp, "sleeping"), SLEEPING_PIPELINE);
  p = await startTestProvisioner({ token: TOKEN, maxWorkers: 2, dataDir: path.join(tmp, "data") });
});
afterAll(async () => {
  await p?.close();
  await fs.rm(tmp, { recursive: true, force: true });
});

describe("public routes and auth", () => {
  it("answers ping, health and readiness without a token", async () => {
    expect((await api(p.url, "GET", "/")).json).toEqual({ message: "pong" });
    expect((await api(p.url, "GET", "/healthz")).status).toBe(200);
    expect((await api(p.url, "GET", "/readyz")).status).toBe(200);
  });

  it("requires the token as Bearer or ?token= everywhere else, with 401 problem+json", async () => {
    const none = await api(p.url, "GET", "/api/worker");
    expect(none.status).toBe(401);
    expect(none.type).toContain("application/problem+json");
    expect(none.json).toMatchObject({ status: 401, code: "unauthorized" });
    expect((await api(p.url, "GET", "/api/worker", { token: "wrong" })).status).toBe(401);
    expect((await api(p.url, "GET", "/api/worker?token=s3cret-tokeN")).status).toBe(401);
    expect((await api(p.url, "GET", "/metrics")).status).toBe(401);
    expect((await api(p.url, "GET", "/api/docs/json")).status).toBe(401);
    expect((await api(p.url, "GET", "/api/worker", { token: TOKEN })).status).toBe(200);
    expect((await api(p.url, "GET", `/api/worker?token=${TOKEN}`)).status).toBe(200);
  });

  it("serves the OpenAPI document and metrics", async () => {
    const doc = await api(p.url, "GET", "/api/docs/json", { token: TOKEN });
    expect(doc.status).toBe(200);
    const paths = (doc.json as { paths: Record<string, Record<string, unknown>> }).paths;
    expect(Object.keys(paths)).toEqual(expect.arrayContaining(["/api/worker", "/api/worker/{workerId}"]));
    expect(paths["/api/worker"]).toHaveProperty("post");
    const ui = await api(p.url, "GET", `/api/docs?token=${TOKEN}`);
    expect(ui.status).toBe(200);
    expect(ui.text).toContain("swagger");
    const metrics = await api(p.url, "GET", "/metrics", { token: TOKEN });
    expect(metrics.text).toContain("wharf_provisioner_workers");
  });
});

describe("POST /api/worker", () => {
  it("creates a worker from wharf-api's query string and returns the existing one on retry", async () => {
    const query = wharfApiQuery({ buildRef: 101, gitUrl: "file:///nowhere.git", token: TOKEN });
    const first = await api(p.url, "POST", `/api/worker?${query}`);
    expect(first.status).toBe(201);
    expect(first.json).toMatchObject({
      buildRef: 101,
      instance: "test",
      projectId: 7,
      backend: "local",
      status: expect.stringMatching(/^(Queued|Scheduling|Initializing)$/),
    });
    const worker = first.json as { workerId: string; name: string; createdAt: string };
    expect(worker.name).toMatch(/^wharf-worker-101-/);
    expect(new Date(worker.createdAt).getTime()).not.toBeNaN();

    const again = await api(p.url, "POST", `/api/worker?${query}`);
    expect(again.status).toBe(200);
    expect((again.json as { workerId: string }).workerId).toBe(worker.workerId);

    const otherInstance = await api(
      p.url,
      "POST",
      `/api/worker?${wharfApiQuery({ buildRef: 101, gitUrl: "file:///nowhere.git", token: TOKEN, instance: "prod" })}`,
    );
    expect(otherInstance.status).toBe(201);
    expect((otherInstance.json as { workerId: string }).workerId).not.toBe(worker.workerId);

    // Once started, the worker has an address.
    const started = await waitFor("worker started", async () => {
      const list = await api(p.url, "GET", "/api/worker?buildRef=101&instance=test", { token: TOKEN });
      const [w] = list.json as { status: string; address: string | null }[];
      return w?.address ? w : undefined;
    });
    expect(started.address).toMatch(/^127\.0\.0\.1:\d+$/);
  });

  it("ignores the body whatever its content type", async () => {
    const res = await api(p.url, "POST", "/api/worker?BUILD_REF=102&GIT_FULLURL=x", {
      token: TOKEN,
      body: "\u0000\u0001 not json",
      headers: { "content-type": "application/x-something-odd" },
    });
    expect(res.status).toBe(201);
  });

  const bad: [string, string, { status: number; param?: string; code?: string }][] = [
    ["no BUILD_REF", "GIT_FULLURL=x", { status: 400, param: "BUILD_REF", code: "missing-param" }],
    ["empty BUILD_REF", "BUILD_REF=&GIT_FULLURL=x", { status: 400, param: "BUILD_REF" }],
    ["non-numeric BUILD_REF", "BUILD_REF=abc&GIT_FULLURL=x", { status: 400, param: "BUILD_REF" }],
    ["negative BUILD_REF", "BUILD_REF=-1&GIT_FULLURL=x", { status: 400, param: "BUILD_REF" }],
    ["huge BUILD_REF", "BUILD_REF=99999999999999999999&GIT_FULLURL=x", { status: 400, param: "BUILD_REF" }],
    ["repeated BUILD_REF", "BUILD_REF=1&BUILD_REF=2&GIT_FULLURL=x", { status: 400, param: "BUILD_REF" }],
    ["no GIT_FULLURL", "BUILD_REF=5", { status: 400, param: "GIT_FULLURL", code: "missing-param" }],
    ["VARS not YAML", "BUILD_REF=5&GIT_FULLURL=x&VARS=%7Ba%3A", { status: 400, param: "VARS" }],
    ["VARS a list", "BUILD_REF=5&GIT_FULLURL=x&VARS=%5B1%2C2%5D", { status: 400, param: "VARS" }],
    ["VARS a scalar", "BUILD_REF=5&GIT_FULLURL=x&VARS=hello", { status: 400, param: "VARS" }],
    [
      "bad project id",
      "BUILD_REF=5&GIT_FULLURL=x&WHARF_PROJECT_ID=seven",
      { status: 400, param: "WHARF_PROJECT_ID" },
    ],
    ["malformed escapes", "BUILD_REF=%E0%A4%A&GIT_FULLURL=%%%", { status: 400, param: "BUILD_REF" }],
  ];
  it.each(bad)("rejects %s with a problem naming the parameter", async (_name, query, want) => {
    const res = await api(p.url, "POST", `/api/worker?${query}`, { token: TOKEN });
    expect(res.status).toBe(want.status);
    expect(res.type).toContain("application/problem+json");
    expect(res.json).toMatchObject(want);
  });

  it("answers 413 problem+json to a huge body", async () => {
    const res = await api(p.url, "POST", "/api/worker?BUILD_REF=6&GIT_FULLURL=x", {
      token: TOKEN,
      body: "x".repeat(2 * 1024 * 1024),
      headers: { "content-type": "text/plain" },
    });
    expect(res.status).toBe(413);
    expect(res.json).toMatchObject({ code: "payload-too-large" });
  });
  // Arbitrary query strings, bodies and paths: http-fuzz.test.ts.
});

describe("list, delete and missing", () => {
  it("filters, deletes and explains missing builds", async () => {
    const created = await api(
      p.url,
      "POST",
      `/api/worker?BUILD_REF=201&GIT_FULLURL=${encodeURIComponent(sleeping)}&WHARF_INSTANCE=m`,
      { token: TOKEN },
    );
    const { workerId } = created.json as { workerId: string };
    const byRef = await api(p.url, "GET", "/api/worker?buildRef=201&instance=m", { token: TOKEN });
    expect((byRef.json as { workerId: string }[]).map((w) => w.workerId)).toEqual([workerId]);
    const badStatus = await api(p.url, "GET", "/api/worker?status=Sleeping", { token: TOKEN });
    expect(badStatus.status).toBe(400);
    expect(badStatus.json).toMatchObject({ param: "status" });
    const running = await waitFor("worker running", async () => {
      const r = await api(p.url, "GET", "/api/worker?status=Initializing,Running&instance=m", {
        token: TOKEN,
      });
      return (r.json as unknown[]).length === 1 ? r.json : undefined;
    });
    expect(running).toHaveLength(1);

    const live = await api(p.url, "POST", "/api/worker/missing", {
      token: TOKEN,
      body: { buildRefs: [201, 999], instance: "m" },
    });
    expect(live.status).toBe(200);
    expect((live.json as { results: unknown[] }).results).toEqual([
      expect.objectContaining({ buildRef: 201, live: true, workerId }),
      { buildRef: 999, live: false, reason: "never-seen" },
    ]);

    expect((await api(p.url, "DELETE", `/api/worker/${workerId}`, { token: TOKEN })).status).toBe(204);
    expect((await api(p.url, "DELETE", `/api/worker/${workerId}`, { token: TOKEN })).status).toBe(404);
    const after = await api(p.url, "GET", "/api/worker?buildRef=201", { token: TOKEN });
    expect(after.json).toEqual([]);
    expect((await p.backend.list()).map((w) => w.workerId)).not.toContain(workerId);

    // wharf-api's shapes: its build objects, or a bare array of ids.
    const deleted = await api(p.url, "POST", "/api/worker/missing?instance=m", {
      token: TOKEN,
      body: { builds: [{ buildId: 201 }] },
    });
    expect((deleted.json as { missing: unknown[] }).missing).toEqual([
      expect.objectContaining({ buildRef: 201, live: false, reason: "deleted" }),
    ]);
    const bare = await api(p.url, "POST", "/api/worker/missing", { token: TOKEN, body: [999] });
    expect((bare.json as { missing: unknown[] }).missing).toEqual([
      { buildRef: 999, live: false, reason: "never-seen" },
    ]);
  });

  const badMissing: [string, string, Record<string, string>][] = [
    ["invalid JSON", "{", {}],
    ["strings as refs", JSON.stringify({ buildRefs: ["a"] }), {}],
    ["negative ref", JSON.stringify({ buildRefs: [-1] }), {}],
    ["an object of nothing", "{}", {}],
    ["empty body", "", {}],
    ["a prototype pollution attempt", '{"__proto__":{"x":1},"buildRefs":[1]}', {}],
    ["an unknown content type", "[1]", { "content-type": "application/x-unknown" }],
  ];
  it.each(badMissing)(
    "rejects %s on /api/worker/missing with 4xx problem+json",
    async (_n, body, headers) => {
      const res = await api(p.url, "POST", "/api/worker/missing", { token: TOKEN, body, headers });
      expect(res.status).toBeGreaterThanOrEqual(400);
      expect(res.status).toBeLessThan(500);
      expect(res.type).toContain("application/problem+json");
    },
  );

  it("keeps the outcome the aggregator relayed when it removes a worker the provisioner still lists active", async () => {
    // The aggregator releases a finished worker and removes it; the reconcile may not have seen
    // its result yet (on Kubernetes the pod can be gone first). Without the outcome: Cancelled.
    const q = (ref: number) =>
      `BUILD_REF=${ref}&GIT_FULLURL=${encodeURIComponent(sleeping)}&WHARF_INSTANCE=o`;
    const ids: string[] = [];
    for (const ref of [401, 402]) {
      const created = await api(p.url, "POST", `/api/worker?${q(ref)}`, { token: TOKEN });
      ids.push((created.json as { workerId: string }).workerId);
    }
    await waitFor("both started", async () => {
      const r = await api(p.url, "GET", "/api/worker?status=Initializing,Running&instance=o", {
        token: TOKEN,
      });
      return (r.json as unknown[]).length === 2;
    });
    const bad = await api(p.url, "DELETE", `/api/worker/${ids[0]}?outcome=Done`, { token: TOKEN });
    expect(bad.status).toBe(400);
    expect(bad.type).toContain("application/problem+json");
    expect(
      (await api(p.url, "DELETE", `/api/worker/${ids[0]}?outcome=Success`, { token: TOKEN })).status,
    ).toBe(204);
    expect((await api(p.url, "DELETE", `/api/worker/${ids[1]}`, { token: TOKEN })).status).toBe(204);
    const rows = await p.db.query<{ worker_id: string; status: string; end_reason: string }>(
      "SELECT worker_id, status, end_reason FROM provisioner_workers WHERE worker_id = ANY($1)",
      [ids],
    );
    const byId = Object.fromEntries(rows.rows.map((r) => [r.worker_id, [r.status, r.end_reason]]));
    expect(byId).toEqual({
      [ids[0] as string]: ["Success", "finished"],
      [ids[1] as string]: ["Cancelled", "deleted"],
    });
  });

  it("keeps GIT_TOKEN only until the worker starts, and never runs a removed build's ref again", async () => {
    const gitToken = "marker-git-token-77e1";
    const query = `BUILD_REF=301&GIT_FULLURL=${encodeURIComponent(sleeping)}&WHARF_INSTANCE=r&GIT_TOKEN=${gitToken}`;
    const created = await api(p.url, "POST", `/api/worker?${query}`, { token: TOKEN });
    expect(created.status).toBe(201);
    const { workerId } = created.json as { workerId: string };
    const stored = async () =>
      JSON.stringify(
        (await p.db.query("SELECT * FROM provisioner_workers WHERE worker_id = $1", [workerId])).rows,
      );
    await waitFor("the worker started", async () => {
      const r = await api(p.url, "GET", "/api/worker?buildRef=301&instance=r", { token: TOKEN });
      return (
        (r.json as { status: string }[])[0]?.status !== "Queued" && !(await stored()).includes("Scheduling")
      );
    });
    expect(await stored()).not.toContain(gitToken);

    // The aggregator removes the worker once its build is relayed; wharf-api then retries the POST.
    expect((await api(p.url, "DELETE", `/api/worker/${workerId}`, { token: TOKEN })).status).toBe(204);
    const again = await api(p.url, "POST", `/api/worker?${query}`, { token: TOKEN });
    expect(again.status).toBe(200);
    expect(again.json).toMatchObject({ workerId, buildRef: 301 });
    const rows = await p.db.query("SELECT worker_id FROM provisioner_workers WHERE build_ref = 301");
    expect(rows.rows).toHaveLength(1);
    // Another instance's build of the same ref is another build.
    const other = await api(
      p.url,
      "POST",
      `/api/worker?${query.replace("WHARF_INSTANCE=r", "WHARF_INSTANCE=r2")}`,
      {
        token: TOKEN,
      },
    );
    expect(other.status).toBe(201);
    await api(p.url, "DELETE", `/api/worker/${(other.json as { workerId: string }).workerId}`, {
      token: TOKEN,
    });
  });

  it("answers unknown routes and workers with 404 problem+json", async () => {
    const route = await api(p.url, "GET", "/api/nothing", { token: TOKEN });
    expect(route.status).toBe(404);
    expect(route.json).toMatchObject({ code: "route-not-found" });
    const worker = await api(p.url, "DELETE", "/api/worker/no-such-worker", { token: TOKEN });
    expect(worker.json).toMatchObject({ status: 404, code: "not-found" });
  });
});
