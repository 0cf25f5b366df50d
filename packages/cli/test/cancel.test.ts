import { spawn } from "node:child_process";
import http from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { wharfArgs } from "@wharf/testkit";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";

const repoRoot = path.resolve(fileURLToPath(import.meta.url), "../../../..");

interface Worker {
  workerId: string;
  status: string;
  buildRef: number;
  instance: string;
}

/** A provisioner double: GET /api/worker?buildRef=&instance= and DELETE /api/worker/:id, with a token. */
const state: { workers: Worker[]; requests: string[]; auth: (string | undefined)[] } = {
  workers: [],
  requests: [],
  auth: [],
};
const server = http.createServer((req, res) => {
  state.requests.push(`${req.method} ${req.url}`);
  state.auth.push(req.headers.authorization);
  if (req.headers.authorization !== "Bearer s3cret") {
    res.writeHead(401, { "content-type": "application/problem+json" });
    return res.end(JSON.stringify({ detail: "missing or wrong bearer token" }));
  }
  const url = new URL(req.url ?? "/", "http://x");
  if (req.method === "GET" && url.pathname === "/api/worker") {
    const ref = url.searchParams.get("buildRef");
    const inst = url.searchParams.get("instance");
    const rows = state.workers.filter(
      (w) => (ref === null || String(w.buildRef) === ref) && (inst === null || w.instance === inst),
    );
    res.writeHead(200, { "content-type": "application/json" });
    return res.end(JSON.stringify(rows));
  }
  const del = /^\/api\/worker\/([^/]+)$/.exec(url.pathname);
  if (req.method === "DELETE" && del) {
    const before = state.workers.length;
    state.workers = state.workers.filter((w) => w.workerId !== decodeURIComponent(del[1] ?? ""));
    res.writeHead(state.workers.length < before ? 204 : 404);
    return res.end();
  }
  res.writeHead(404);
  res.end();
});
let url = "";
beforeAll(async () => {
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));
beforeEach(() => {
  state.workers = [];
  state.requests = [];
  state.auth = [];
});

function wharf(args: string[], extraEnv: Record<string, string> = {}) {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const key of Object.keys(env)) if (key.startsWith("WHARF_")) delete env[key];
  Object.assign(env, { WHARF_PROVISIONER_URL: url, WHARF_PROVISIONER_TOKEN: "s3cret", ...extraEnv });
  return new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve, reject) => {
    const child = spawn(process.execPath, wharfArgs(args), { cwd: repoRoot, env });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => {
      stdout += d;
    });
    child.stderr.on("data", (d) => {
      stderr += d;
    });
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}

const w = (workerId: string, buildRef: number, status: string, instance = "prod"): Worker => ({
  workerId,
  buildRef,
  status,
  instance,
});

describe("wharf cancel", () => {
  it("finds the build's worker by buildRef and deletes it, with the token; exit 0", async () => {
    state.workers = [w("wk-1", 42, "Running"), w("wk-2", 43, "Running")];
    const r = await wharf(["cancel", "42"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("cancelled build 42: stopped worker wk-1 (was Running)");
    expect(state.requests).toEqual(["GET /api/worker?buildRef=42", "DELETE /api/worker/wk-1"]);
    expect(state.auth).toEqual(["Bearer s3cret", "Bearer s3cret"]);
    expect(state.workers.map((x) => x.workerId)).toEqual(["wk-2"]);
  }, 30_000);

  it("exits 3 when there is nothing to cancel: no worker, or the build already finished", async () => {
    let r = await wharf(["cancel", "7"]);
    expect(r.code).toBe(3);
    expect(r.stderr).toContain("no worker for build 7");
    state.workers = [w("wk-9", 9, "Success")];
    r = await wharf(["cancel", "9"]);
    expect(r.code).toBe(3);
    expect(r.stderr).toContain("build 9 already finished (Success)");
    expect(state.requests.filter((q) => q.startsWith("DELETE"))).toEqual([]);
  }, 30_000);

  it("exits 2 for a bad build ref, or workers of several instances without --instance", async () => {
    expect((await wharf(["cancel", "abc"])).code).toBe(2);
    state.workers = [w("a", 5, "Queued", "one"), w("b", 5, "Running", "two")];
    const r = await wharf(["cancel", "5"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("--instance");
    const picked = await wharf(["cancel", "5", "--instance", "two"]);
    expect(picked.code).toBe(0);
    expect(state.requests).toContain("GET /api/worker?buildRef=5&instance=two");
    expect(state.workers.map((x) => x.workerId)).toEqual(["a"]);
  }, 30_000);

  it("exits 1 when the provisioner refuses (wrong token) or cannot be reached", async () => {
    state.workers = [w("wk-1", 42, "Running")];
    const refused = await wharf(["cancel", "42"], { WHARF_PROVISIONER_TOKEN: "wrong" });
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain("401 missing or wrong bearer token");
    const down = await wharf(["cancel", "42", "--provisioner", "http://127.0.0.1:1"]);
    expect(down.code).toBe(1);
    expect(down.stderr).toContain("cannot reach the provisioner at http://127.0.0.1:1");
    expect(state.workers).toHaveLength(1);
  }, 30_000);

  it("documents its exit codes in --help", async () => {
    const r = await wharf(["cancel", "--help"]);
    expect(r.code).toBe(0);
    for (const code of ["0  cancelled", "1  the provisioner", "2  usage", "3  nothing to cancel"])
      expect(r.stdout).toContain(code);
  }, 30_000);
});
