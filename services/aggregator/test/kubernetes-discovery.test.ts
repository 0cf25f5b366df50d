import { type FakeClusterEnv, type FakeKubeApiServer, startFakeClusterEnv } from "@wharf/kube-fake";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { compileOptions, startAggregator } from "../src/index.js";

describe("WHARF_DISCOVERY=kubernetes", () => {
  it("reads namespace, instance and how workers are reached", () => {
    const base = { WHARF_API_URL: "http://wharf-api" };
    expect(compileOptions({ ...base, WHARF_DISCOVERY: "kubernetes" }).discovery).toEqual({
      kind: "kubernetes",
      connect: "port-forward",
    });
    expect(
      compileOptions({
        ...base,
        WHARF_DISCOVERY: "kubernetes",
        WHARF_K8S_NAMESPACE: "builds",
        WHARF_INSTANCE: "prod",
        WHARF_K8S_CONNECT: "pod-ip",
      }).discovery,
    ).toEqual({ kind: "kubernetes", namespace: "builds", instance: "prod", connect: "pod-ip" });
    expect(() =>
      compileOptions({ ...base, WHARF_DISCOVERY: "kubernetes", WHARF_K8S_CONNECT: "vpn" }),
    ).toThrow(/WHARF_K8S_CONNECT must be port-forward or pod-ip/);
  });

  describe("startAggregator", () => {
    let cluster: FakeClusterEnv;
    let fake: FakeKubeApiServer;
    let dir: string;
    beforeAll(async () => {
      cluster = await startFakeClusterEnv("ci");
      ({ fake, dir } = cluster);
    });
    afterAll(async () => {
      await cluster?.close();
    });

    it("discovers worker pods through the kubeconfig and becomes ready", async () => {
      const opts = compileOptions(
        {
          WHARF_API_URL: "http://127.0.0.1:9",
          WHARF_DISCOVERY: "kubernetes",
          WHARF_AGGREGATOR_HOST: "127.0.0.1",
          WHARF_AGGREGATOR_PORT: "0",
          WHARF_DISCOVERY_INTERVAL: "100ms",
        },
        "aggregator",
        dir,
      );
      const agg = await startAggregator(opts);
      try {
        const deadline = Date.now() + 20_000;
        let ready = 503;
        while (ready !== 200 && Date.now() < deadline) {
          ready = (await fetch(`${agg.url}/readyz`)).status;
          if (ready !== 200) await new Promise((r) => setTimeout(r, 100));
        }
        expect(ready).toBe(200);
        // Ready means the directory listed and watches worker pods in the kubeconfig's namespace.
        expect(fake.calls).toContainEqual(
          expect.objectContaining({ verb: "list", resource: "pods", namespace: "ci", code: 200 }),
        );
      } finally {
        await agg.close();
      }
    });
  });
});
