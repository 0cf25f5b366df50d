import { ConfigError } from "@wharf/config";
import { describe, expect, it } from "vitest";
import { compileOptions } from "../src/index.js";

describe("compileOptions", () => {
  it("documents its defaults", () => {
    const o = compileOptions({ WHARF_API_URL: "http://wharf-api:8080" }, "aggregator", "/srv");
    expect(o).toMatchObject({
      apiUrl: "http://wharf-api:8080",
      apiGrpcAddress: "wharf-api:8080",
      dataDir: "/srv/.wharf",
      discovery: { kind: "provisioner", url: "http://127.0.0.1:5009" },
      port: 5008,
      maxUrlLength: 4096,
      leaseTtlMs: 30_000,
      discoveryIntervalMs: 1000,
      workerLostGraceMs: 15_000,
      relay: true,
      watchdog: false,
      watchdogIntervalMs: 30_000,
      watchdogGraceMs: 60_000,
    });
    expect(o.databaseUrl).toBeUndefined();
  });

  it("reads the URL limit, and refuses one too small for a signed link", () => {
    const base = { WHARF_API_URL: "http://a:1" };
    expect(compileOptions({ ...base, WHARF_AGGREGATOR_MAX_URL: "8192" }).maxUrlLength).toBe(8192);
    expect(() => compileOptions({ ...base, WHARF_AGGREGATOR_MAX_URL: "64" })).toThrow(ConfigError);
  });

  it("reads overrides and the watchdog mode", () => {
    const o = compileOptions(
      {
        WHARF_API_URL: "http://a:1",
        WHARF_API_GRPC_URL: "http://a-grpc:9090",
        WHARF_DISCOVERY: "docker",
        WHARF_INSTANCE: "prod",
        WHARF_LEASE_TTL: "5s",
        WHARF_WATCHDOG_INTERVAL: "10s",
      },
      "watchdog",
    );
    expect(o.apiGrpcAddress).toBe("a-grpc:9090");
    expect(o.discovery).toEqual({ kind: "docker", instance: "prod" });
    expect(o.leaseTtlMs).toBe(5000);
    expect([o.relay, o.watchdog, o.watchdogIntervalMs]).toEqual([false, true, 10_000]);
  });

  it("refuses bad input with a clear error", () => {
    expect(() => compileOptions({})).toThrow(ConfigError);
    expect(() => compileOptions({ WHARF_API_URL: "not a url" })).toThrow(/WHARF_API_URL/);
    expect(() => compileOptions({ WHARF_API_URL: "http://a", WHARF_DISCOVERY: "k8s" })).toThrow(
      /WHARF_DISCOVERY/,
    );
    expect(() => compileOptions({ WHARF_API_URL: "http://a", WHARF_LEASE_TTL: "soon" })).toThrow(
      /WHARF_LEASE_TTL/,
    );
  });
});
