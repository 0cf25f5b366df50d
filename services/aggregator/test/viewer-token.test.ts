import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { ConfigError } from "@wharf/config";
import { afterAll, expect, it } from "vitest";
import { compileOptions, startAggregator } from "../src/index.js";

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await fs.rm(d, { recursive: true, force: true });
});

it("without WHARF_AGGREGATOR_TOKEN listens on loopback only, and refuses to be told otherwise", () => {
  const base = { WHARF_API_URL: "http://127.0.0.1:9" };
  expect(compileOptions(base, "aggregator", "/srv").host).toBe("127.0.0.1");
  expect(() => compileOptions({ ...base, WHARF_AGGREGATOR_HOST: "0.0.0.0" }, "aggregator", "/srv")).toThrow(
    ConfigError,
  );
  expect(compileOptions({ ...base, WHARF_AGGREGATOR_HOST: "::1" }, "aggregator", "/srv").host).toBe("::1");
  const withToken = compileOptions({ ...base, WHARF_AGGREGATOR_TOKEN: "t" }, "aggregator", "/srv");
  expect(withToken).toMatchObject({ host: "0.0.0.0", viewerToken: "t" });
});

it("with a token, the log routes answer 401 without it; health, readiness and metrics stay open", async () => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), "wharf-agg-token-"));
  dirs.push(dir);
  const agg = await startAggregator(
    compileOptions(
      {
        WHARF_API_URL: "http://127.0.0.1:9",
        WHARF_AGGREGATOR_TOKEN: "agg-token",
        WHARF_AGGREGATOR_HOST: "127.0.0.1",
        WHARF_AGGREGATOR_PORT: "0",
        WHARF_PROVISIONER_URL: "http://127.0.0.1:9",
      },
      "aggregator",
      dir,
    ),
  );
  try {
    expect((await fetch(`${agg.url}/api/builds/1/summary`)).status).toBe(401);
    expect((await fetch(`${agg.url}/builds/1`)).status).toBe(401);
    const authorized = await fetch(`${agg.url}/api/builds/1/summary`, {
      headers: { authorization: "Bearer agg-token" },
    });
    // In: the build is unknown to this aggregator (no worker, wharf-api unreachable), not refused.
    expect(authorized.status).not.toBe(401);
    for (const open of ["/healthz", "/metrics"]) expect((await fetch(`${agg.url}${open}`)).status).toBe(200);
    expect([200, 503]).toContain((await fetch(`${agg.url}/readyz`)).status);
  } finally {
    await agg.close();
  }
});
