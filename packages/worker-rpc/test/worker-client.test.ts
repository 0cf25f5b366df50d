import { randomBytes } from "node:crypto";
import fs from "node:fs/promises";
import path from "node:path";
import { status as GrpcStatus } from "@grpc/grpc-js";
import type { LogEntry } from "@wharf/result-store";
import { afterEach, describe, expect, it } from "vitest";
import { createWorkerClient, type WorkerClient, WorkerRpcError } from "../src/index.js";
import { Harness, waitFor } from "./outside-client.js";

let h: Harness;
let client: WorkerClient | undefined;
afterEach(async () => {
  client?.close();
  client = undefined;
  await h?.stop();
});

async function collect<T>(items: AsyncIterable<T>): Promise<T[]> {
  const all: T[] = [];
  for await (const item of items) all.push(item);
  return all;
}

describe("createWorkerClient", () => {
  it("follows a live build through every stream and reads the summary", async () => {
    const cancels: string[] = [];
    let released = false;
    h = await Harness.start({
      token: "tok",
      onCancel: (r) => {
        cancels.push(r);
      },
      onRelease: () => {
        released = true;
      },
    });
    client = createWorkerClient(h.address, { token: "tok" });
    h.store.setSteps([{ stepId: 1, stage: "s", name: "n" }]);
    h.store.appendStatus(1, "RUNNING");
    const seen: LogEntry[] = [];
    const batches = (async () => {
      for await (const batch of client!.streamLogBatches(0, { maxBatchLines: 50 })) {
        expect(batch.length).toBeLessThanOrEqual(50);
        seen.push(...batch);
      }
    })();
    const statuses = collect(client.streamStatus(0));
    const artifacts = collect(client.streamArtifacts(0));
    for (let i = 1; i <= 500; i++) h.store.appendLog(1, `line ${i}`, 1000 + i);
    await waitFor(() => seen.length === 500, "500 lines");
    const bytes = randomBytes(200_000);
    const file = path.join(h.dir, "out.bin");
    await fs.writeFile(file, bytes);
    await h.store.addArtifact(1, "out.bin", file);
    h.store.appendStatus(1, "SUCCESS");
    h.store.recordStepResult(1, { exitCode: 0, attempts: 1 });
    await h.store.finish("SUCCESS", "done");
    await batches;
    expect(seen.map((l) => l.logId)).toEqual(Array.from({ length: 500 }, (_, i) => i + 1));
    expect(seen[499]).toEqual({ logId: 500, stepId: 1, timestamp: 1500, message: "line 500" });
    expect((await statuses).map((e) => [e.eventId, e.stepId, e.status])).toEqual([
      [1, 1, "RUNNING"],
      [2, 1, "SUCCESS"],
      [3, 0, "SUCCESS"],
    ]);
    const [artifact] = await artifacts;
    expect(artifact).toMatchObject({ artifactId: 1, stepId: 1, name: "out.bin", size: bytes.length });
    expect(Buffer.concat(await collect(client.downloadArtifact(1))).equals(bytes)).toBe(true);
    expect((await collect(client.streamLogs(498))).map((l) => l.message)).toEqual(["line 499", "line 500"]);
    expect(await client.summary()).toEqual(h.store.summary());
    await client.cancel("stop");
    await client.release();
    expect(cancels).toEqual(["stop"]);
    expect(released).toBe(true);
    expect(await client.health()).toBe("SERVING");
  });

  it("turns failures into WorkerRpcError with the gRPC code", async () => {
    h = await Harness.start({ token: "tok" });
    client = createWorkerClient(h.address, { token: "tok" });
    const notFound = await collect(client.downloadArtifact(7)).catch((e: unknown) => e);
    expect(notFound).toBeInstanceOf(WorkerRpcError);
    expect((notFound as WorkerRpcError).code).toBe(GrpcStatus.NOT_FOUND);
    const anonymous = createWorkerClient(h.address);
    try {
      await expect(anonymous.summary()).rejects.toMatchObject({ code: GrpcStatus.UNAUTHENTICATED });
      await expect(collect(anonymous.streamLogBatches(0))).rejects.toMatchObject({
        code: GrpcStatus.UNAUTHENTICATED,
      });
    } finally {
      anonymous.close();
    }
  });

  it("ends a live stream quietly when its signal aborts, and keeps the summary's null exit code", async () => {
    h = await Harness.start();
    client = createWorkerClient(h.address);
    h.store.setSteps([{ stepId: 1, stage: "s", name: "never ran" }]);
    h.store.appendLog(1, "x");
    const abort = new AbortController();
    const seen: LogEntry[][] = [];
    const following = (async () => {
      for await (const b of client!.streamLogBatches(0, { signal: abort.signal })) seen.push(b);
    })();
    await waitFor(() => seen.length === 1, "the first batch");
    abort.abort();
    await following;
    expect(seen.flat().map((l) => l.message)).toEqual(["x"]);
    h.store.recordStepResult(1, { exitCode: null, attempts: 0 });
    expect((await client.summary()).steps).toEqual([
      { stepId: 1, stage: "s", name: "never ran", status: "PENDING", exitCode: null, attempts: 0 },
    ]);
  });
});
