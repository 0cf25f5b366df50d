import { startWharfApiDouble } from "@wharf/testkit";
import { describe, expect, it } from "vitest";
import { LogStreamSender } from "../src/log-stream-sender.js";
import { FenceClosedError, LeaseFence, type SendFence } from "../src/send-fence.js";
import { WharfApiClient } from "../src/wharf-api-client.js";

// The fence against the wharf-api double over real loopback HTTP/2 and HTTP.
const line = (n: number) => ({
  buildId: 9,
  workerLogId: n,
  workerStepId: 1,
  timestamp: new Date(1_700_000_000_000),
  message: `line ${n} ${"x".repeat(60)}`,
});
const lines = (n: number) => Array.from({ length: n }, (_, i) => line(i + 1));
const fenceOf = (ms: number): LeaseFence => {
  const f = new LeaseFence(ms, 0);
  f.extend(LeaseFence.now());
  return f;
};

describe("send fence", () => {
  it("a call's deadline ends within the fence and binds wharf-api: lines it had not read are never stored", async () => {
    const api = await startWharfApiDouble();
    api.setDelayMs(700); // wharf-api reads the call only after the fence ended
    const sender = new LogStreamSender(api.grpcAddress);
    try {
      await expect(sender.send(lines(50), 60_000, undefined, fenceOf(250))).rejects.toThrow(
        /DEADLINE|deadline/,
      );
      await new Promise((r) => setTimeout(r, 1000));
      expect(api.logs).toHaveLength(0);
      // The same call unfenced is stored whole: the delay alone loses nothing.
      expect(await sender.send(lines(50), 60_000)).toBe(50);
      expect(api.logs).toHaveLength(50);
    } finally {
      sender.close();
      await api.close();
    }
  });

  it("a fence that closes mid-call stops the writes at once: only a prefix is stored, the call fails", async () => {
    const api = await startWharfApiDouble();
    const sender = new LogStreamSender(api.grpcAddress);
    // Open for the first three checks (call start and two 64 KiB chunks), closed from then on,
    // as a holder resumed after a stall finds it.
    let checks = 0;
    const fence: SendFence = { remainingMs: () => (++checks <= 3 ? 60_000 : -1) };
    try {
      await expect(sender.send(lines(20_000), 60_000, undefined, fence)).rejects.toBeInstanceOf(
        FenceClosedError,
      );
      await new Promise((r) => setTimeout(r, 300));
      expect(api.logs.length).toBeGreaterThan(0);
      expect(api.logs.length).toBeLessThan(3000); // two chunks of ~90-byte frames
      expect(api.logs.map((l) => l.workerLogId)).toEqual(lines(api.logs.length).map((l) => l.workerLogId));
    } finally {
      sender.close();
      await api.close();
    }
  });

  it("a closed fence sends nothing over HTTP either: no status PUT, no artifact upload reaches wharf-api", async () => {
    const api = await startWharfApiDouble();
    api.setBuild(9, "Scheduling");
    const client = new WharfApiClient({ url: api.url });
    const closed = new LeaseFence(10_000);
    try {
      await expect(client.setBuildStatus(9, { status: "Running" }, undefined, closed)).rejects.toBeInstanceOf(
        FenceClosedError,
      );
      async function* body() {
        yield new TextEncoder().encode("first chunk");
      }
      await expect(client.uploadArtifact(9, "a.txt", body(), undefined, closed)).rejects.toThrow();
      await expect(client.sendLogBatch(lines(3), undefined, closed)).rejects.toThrow(/lease may lapse/);
      expect([api.statuses.length, api.artifacts.length, api.logs.length]).toEqual([0, 0, 0]);
      // Open, the same sends arrive.
      const open = fenceOf(10_000);
      await client.setBuildStatus(9, { status: "Running" }, undefined, open);
      expect(api.statusesFor(9)).toEqual(["Running"]);
    } finally {
      client.close();
      await api.close();
    }
  });

  it("measures the lease from when the query was sent, minus a margin, on a clock that runs while stopped", () => {
    const f = new LeaseFence(3_000);
    expect(f.marginMs).toBe(300);
    expect(f.remainingMs()).toBeLessThanOrEqual(0);
    f.extend(LeaseFence.now() - 1_000);
    expect(f.remainingMs()).toBeGreaterThan(1_500);
    expect(f.remainingMs()).toBeLessThanOrEqual(1_700);
    f.close();
    expect(f.remainingMs()).toBeLessThanOrEqual(0);
  });
});
