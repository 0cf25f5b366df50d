import { type ChildProcess, spawn } from "node:child_process";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { redactUrl } from "@wharf/config";
import { waitFor, wharfArgs } from "@wharf/testkit";
import { afterAll, beforeAll, expect, it } from "vitest";

// wharf-api puts its tokens in the query string of every trigger. The provisioner as a real
// process, logging every request (debug): neither token may appear in what it writes.
const GIT_TOKEN = "marker-git-token-5f1c";
const TOKEN = "marker-provisioner-token-9a2e";
let child: ChildProcess;
let dir: string;
let output = "";
let url = "";

beforeAll(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), "wharf-redact-"));
  child = spawn(process.execPath, wharfArgs(["provisioner", "serve"]), {
    cwd: dir,
    env: {
      ...process.env,
      WHARF_LOG_LEVEL: "debug",
      WHARF_LOG_FORMAT: "json",
      WHARF_PROVISIONER_HOST: "127.0.0.1",
      WHARF_PROVISIONER_PORT: "0",
      WHARF_PROVISIONER_TOKEN: TOKEN,
      // Low, so the last test reaches it (a 429 is logged too).
      WHARF_PROVISIONER_TRIGGER_RATE: "2",
      WHARF_DATA_DIR: path.join(dir, "data"),
    },
  });
  child.stdout?.on("data", (d) => {
    output += d;
  });
  child.stderr?.on("data", (d) => {
    output += d;
  });
  url = await waitFor(
    "the provisioner's address",
    () => /listening on (http:\/\/\S+)/.exec(output)?.[1],
    30_000,
  );
}, 60_000);

afterAll(async () => {
  // The workers the triggers started outlive their provisioner (by design): remove them through
  // it first, or they go on writing into the directory removed below (and are left running).
  if (url) {
    const auth = { authorization: `Bearer ${TOKEN}` };
    const workers = (await fetch(`${url}/api/worker`, { headers: auth })
      .then((r) => r.json())
      .catch(() => [])) as { workerId: string }[];
    for (const w of workers)
      await fetch(`${url}/api/worker/${w.workerId}`, { method: "DELETE", headers: auth }).catch(() => {});
  }
  child?.kill("SIGKILL");
  await fs.rm(dir, { recursive: true, force: true, maxRetries: 5 });
});

it("never logs the query's GIT_TOKEN or token, at any level, in any request log", async () => {
  const query = new URLSearchParams({
    BUILD_REF: "1",
    GIT_FULLURL: path.join(dir, "no-such-repo"),
    GIT_TOKEN,
    token: TOKEN,
  });
  const created = await fetch(`${url}/api/worker?${query}`, { method: "POST" });
  expect(created.status).toBe(201);
  // A refused request (wrong token in the query) is logged too.
  const refused = await fetch(`${url}/api/worker?token=${TOKEN}x&GIT_TOKEN=${GIT_TOKEN}`, { method: "POST" });
  expect(refused.status).toBe(401);
  await fetch(`${url}/api/worker`, { headers: { authorization: `Bearer ${TOKEN}` } });
  await waitFor("the request log lines", () => (output.match(/"url":/g) ?? []).length >= 3, 10_000);
  expect(output).not.toContain(GIT_TOKEN);
  expect(output).not.toContain(TOKEN);
  expect(output).toContain("GIT_TOKEN=***");
  expect(output).toContain("token=***");
});

it("answers 429 past WHARF_PROVISIONER_TRIGGER_RATE and logs it under a digest, never the token", async () => {
  // The first test triggered once; the refused (401) request did not count.
  const query = (ref: number) =>
    new URLSearchParams({ BUILD_REF: String(ref), GIT_FULLURL: "x", GIT_TOKEN, token: TOKEN });
  expect((await fetch(`${url}/api/worker?${query(2)}`, { method: "POST" })).status).toBe(201);
  const limited = await fetch(`${url}/api/worker?${query(3)}`, { method: "POST" });
  expect(limited.status).toBe(429);
  expect(Number(limited.headers.get("retry-after"))).toBeGreaterThan(0);
  expect(await limited.text()).not.toContain(TOKEN);
  await waitFor("the rate limit's log line", () => output.includes("over the rate limit"), 10_000);
  const line = output.split("\n").find((l) => l.includes("over the rate limit")) ?? "";
  expect(line).toMatch(/"rateKey":"token:[\w-]{22}"/);
  expect(output).not.toContain(TOKEN);
  expect(output).not.toContain(GIT_TOKEN);
});

it("masks secret-looking query parameters and keeps the rest", () => {
  expect(redactUrl("/api/worker?BUILD_REF=4&GIT_TOKEN=abc&token=x%20y&REPO_NAME=r")).toBe(
    "/api/worker?BUILD_REF=4&GIT_TOKEN=***&token=***&REPO_NAME=r",
  );
  expect(redactUrl("/p?api%5Fkey=1&password=&a")).toBe("/p?api%5Fkey=***&password=***&a");
  expect(redactUrl("/api/worker?VARS=%7B%22pw%22%3A%22s%22%7D&VARSITY=1")).toBe(
    "/api/worker?VARS=***&VARSITY=1",
  );
  expect(redactUrl("/healthz")).toBe("/healthz");
});
