import { startWharfApiDouble, type WharfApiDouble } from "@wharf/testkit";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { WharfApiClient, WharfApiError } from "../src/index.js";

// The client against the wharf-api double: both sides of the real protocol
// (gRPC on h2c and HTTP on one port, bearer auth).
let api: WharfApiDouble;
let client: WharfApiClient;
beforeEach(async () => {
  api = await startWharfApiDouble({ token: "secret" });
  client = new WharfApiClient({ url: api.url, token: "secret", requestTimeoutMs: 5_000 });
});
afterEach(async () => {
  client.close();
  await api.close();
});

const line = (n: number) => ({
  buildId: 7,
  workerLogId: n,
  workerStepId: 1,
  timestamp: new Date(1_700_000_000_000 + n),
  message: `line ${n}`,
});

describe("WharfApiClient ↔ wharf-api double", () => {
  it("gives a CreateLogStream call 1 ms per line beyond the request timeout: slow is not stuck", async () => {
    const short = new WharfApiClient({ url: api.url, token: "secret", requestTimeoutMs: 300 });
    try {
      api.setDelayMs(600); // wharf-api holds every call this long
      await expect(short.sendLogBatch([1].map(line))).rejects.toThrow(/deadline/);
      const many = Array.from({ length: 1000 }, (_, i) => line(i + 2));
      expect(await short.sendLogBatch(many)).toBe(1000); // 300 ms + 1000 lines × 1 ms
    } finally {
      short.close();
    }
  });

  it("delivers a log batch over gRPC and gets lines_inserted back", async () => {
    const inserted = await client.sendLogBatch([1, 2, 3].map(line));
    expect(inserted).toBe(3);
    expect(api.logsFor(7).map((l) => [l.workerLogId, l.message, l.timestamp.getTime()])).toEqual([
      [1, "line 1", 1_700_000_000_001],
      [2, "line 2", 1_700_000_000_002],
      [3, "line 3", 1_700_000_000_003],
    ]);
    expect(await client.countBuildLogs(7)).toBe(3);
  });

  it("puts status, lists active builds in wharf-api's shape and streams an artifact", async () => {
    api.setBuild(8, "Running");
    api.setBuild(9, "Completed");
    await client.setBuildStatus(7, { status: "Running" });
    const active = await client.listActiveBuilds();
    expect(active.map((b) => [b.buildId, b.statusId, b.status]).sort()).toEqual([
      [7, 1, "Running"],
      [8, 1, "Running"],
    ]);
    const bytes = Buffer.from(Array.from({ length: 300_000 }, (_, i) => i % 251));
    async function* chunks() {
      for (let i = 0; i < bytes.length; i += 65_536) yield bytes.subarray(i, i + 65_536);
    }
    await client.uploadArtifact(7, "report.bin", chunks());
    expect(api.artifacts).toHaveLength(1);
    expect(api.artifacts[0]?.fileName).toBe("report.bin");
    expect(api.artifacts[0]?.chunked).toBe(true);
    expect(Buffer.compare(api.artifacts[0]?.bytes ?? Buffer.alloc(0), bytes)).toBe(0);
  });

  it("refuses a wrong token on both protocols", async () => {
    const wrong = new WharfApiClient({ url: api.url, token: "nope", requestTimeoutMs: 5_000 });
    try {
      await expect(wrong.sendLogBatch([line(1)])).rejects.toBeInstanceOf(WharfApiError);
      await expect(wrong.setBuildStatus(7, { status: "Running" })).rejects.toMatchObject({ status: 401 });
      expect(api.unauthorized).toBe(2);
      expect(api.logs).toHaveLength(0);
    } finally {
      wrong.close();
    }
  });

  it("can be taken down, fail on purpose and come back on the same port", async () => {
    api.failNext(1);
    await expect(client.setBuildStatus(7, { status: "Running" })).rejects.toMatchObject({ status: 503 });
    await api.goDown();
    await expect(client.listActiveBuilds()).rejects.toBeInstanceOf(WharfApiError);
    await expect(client.sendLogBatch([line(1)])).rejects.toBeInstanceOf(WharfApiError);
    await api.comeUp();
    await client.setBuildStatus(7, { status: "Running" });
    // The gRPC channel reconnects on its own schedule: poll, bounded.
    let inserted = 0;
    for (let i = 0; i < 50 && inserted === 0; i++) {
      inserted = await client
        .sendLogBatch([line(1)])
        .catch(() => new Promise<number>((r) => setTimeout(() => r(0), 100)));
    }
    expect(inserted).toBe(1);
    expect(api.logsFor(7)).toHaveLength(1);
    expect(api.statusesFor(7)).toEqual(["Running"]);
  });
});
