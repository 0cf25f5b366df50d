import http from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { makePipelineRepo, waitFor } from "@wharf/testkit";
import { afterAll, beforeAll, expect, inject, it } from "vitest";
import { type ServicePair, startServicePair } from "./service-pair.js";

// Issue 16's traces: one real build (provisioner and aggregator services, Postgres, a worker
// process, the wharf-api double) with an OTLP endpoint set, received by an OTLP/HTTP (JSON)
// receiver in this process. The build's spans from all three services form one trace, joined
// to the trace wharf-api's trigger carried in its `traceparent` header.
const WHARF_API_TRACE = "0af7651916cd43dd8448eb211c80319c";
const WHARF_API_SPAN = "b7ad6b7169203331";

interface ReceivedSpan {
  service: string;
  name: string;
  traceId: string;
  spanId: string;
  parentSpanId: string;
}

type AnyValue = { stringValue?: string };
interface OtlpJson {
  resourceSpans?: {
    resource?: { attributes?: { key: string; value: AnyValue }[] };
    scopeSpans?: { spans?: { name: string; traceId: string; spanId: string; parentSpanId?: string }[] }[];
  }[];
}

let pair: ServicePair;
let receiver: http.Server;
const received: ReceivedSpan[] = [];
const contentTypes = new Set<string>();

beforeAll(async () => {
  receiver = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      contentTypes.add(req.headers["content-type"] ?? "");
      if (req.method !== "POST" || req.url !== "/v1/traces") {
        res.writeHead(404).end();
        return;
      }
      const body = JSON.parse(Buffer.concat(chunks).toString("utf8")) as OtlpJson;
      for (const rs of body.resourceSpans ?? []) {
        const service =
          rs.resource?.attributes?.find((a) => a.key === "service.name")?.value.stringValue ?? "";
        for (const ss of rs.scopeSpans ?? [])
          for (const s of ss.spans ?? [])
            received.push({
              service,
              name: s.name,
              traceId: s.traceId,
              spanId: s.spanId,
              parentSpanId: s.parentSpanId ?? "",
            });
      }
      res.writeHead(200, { "content-type": "application/json" }).end("{}");
    });
  });
  await new Promise<void>((r) => receiver.listen(0, "127.0.0.1", r));
  const otlp = {
    OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`,
    OTEL_BSP_SCHEDULE_DELAY: "100",
  };

  pair = await startServicePair({ name: "build-trace", pgUrl: inject("pgUrl"), env: otlp });
}, 60_000);

afterAll(async () => {
  await pair?.close();
  receiver?.close();
});

it("one build is one trace holding the provisioner's, the worker's and the aggregator's spans", async () => {
  const repo = await makePipelineRepo(
    path.join(pair.tmp, "hello"),
    "build:\n  hello:\n    container:\n      image: x\n      cmds: ['echo traced']\n",
  );
  pair.api.setBuild(9201, "Scheduling");
  const traceparent = `00-${WHARF_API_TRACE}-${WHARF_API_SPAN}-01`;
  expect(await pair.trigger(9201, repo, { traceparent })).toBe(201);
  await waitFor("Completed at wharf-api", () => pair.api.statusesFor(9201).includes("Completed"), 45_000);
  // Spans are exported in batches (100 ms here); the worker's on its exit, after its release.
  const names = () => new Set(received.map((s) => `${s.service} ${s.name}`));
  await waitFor(
    "every service's spans received",
    () =>
      [
        "wharf-provisioner wharf.provisioner.trigger",
        "wharf-provisioner wharf.provisioner.start_worker",
        "wharf-worker wharf.worker.build",
        "wharf-worker wharf.worker.checkout",
        "wharf-aggregator wharf.aggregator.relay",
      ].every((n) => names().has(n)),
    30_000,
  );
  expect([...contentTypes]).toEqual(["application/json"]);
  // One trace: wharf-api's, each span the child of the one that caused it.
  expect(new Set(received.map((s) => s.traceId))).toEqual(new Set([WHARF_API_TRACE]));
  const span = (name: string) => received.find((s) => s.name === name) as ReceivedSpan;
  expect(span("wharf.provisioner.trigger").parentSpanId).toBe(WHARF_API_SPAN);
  expect(span("wharf.provisioner.start_worker").parentSpanId).toBe(span("wharf.provisioner.trigger").spanId);
  expect(span("wharf.worker.build").parentSpanId).toBe(span("wharf.provisioner.start_worker").spanId);
  expect(span("wharf.worker.checkout").parentSpanId).toBe(span("wharf.worker.build").spanId);
  expect(span("wharf.aggregator.relay").parentSpanId).toBe(span("wharf.worker.build").spanId);
}, 90_000);
