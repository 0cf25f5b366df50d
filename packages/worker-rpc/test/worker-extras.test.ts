import { createHash, randomBytes } from "node:crypto";
import fs from "node:fs/promises";
import path from "node:path";
import { status as GrpcStatus, type ServiceError } from "@grpc/grpc-js";
import { afterEach, describe, expect, it } from "vitest";
import { bearer, callUnary, Harness, readStream } from "./outside-client.js";

let h: Harness;
afterEach(async () => {
  await h?.stop();
});

const codeOf = (p: Promise<unknown>) =>
  p.then(
    () => GrpcStatus.OK,
    (e: ServiceError) => e.code,
  );

describe("wharf.worker.v1.WorkerExtras over gRPC, from a proto-only client", () => {
  it("streams logs in batches bounded by max_batch_lines, in order, ending after the build", async () => {
    h = await Harness.start();
    for (let i = 1; i <= 2500; i++) h.store.appendLog(1, `line ${i}`);
    await h.store.finish("SUCCESS");
    const res = await readStream<{ lines: { log_id: string }[] }>(h.extras(), "StreamLogBatches", {
      after_log_id: 100,
      max_batch_lines: 300,
    });
    expect(res.code).toBe(GrpcStatus.OK);
    expect(res.messages.every((m) => m.lines.length >= 1 && m.lines.length <= 300)).toBe(true);
    const all = res.messages.flatMap((m) => m.lines.map((l) => Number(l.log_id)));
    expect(all).toEqual(Array.from({ length: 2400 }, (_, i) => i + 101));
  });

  it("keeps messages within max_batch_bytes, one line always fitting, and treats 0 as the default", async () => {
    h = await Harness.start();
    for (let i = 1; i <= 400; i++) h.store.appendLog(1, `${"x".repeat(90)} ${i}`);
    h.store.appendLog(1, "y".repeat(10_000));
    await h.store.finish("SUCCESS");
    type Batch = { lines: { log_id: string; message: string }[] };
    const small = await readStream<Batch>(h.extras(), "StreamLogBatches", { max_batch_bytes: 2048 });
    expect(small.code).toBe(GrpcStatus.OK);
    const sizes = small.messages.map((m) => m.lines.reduce((n, l) => n + Buffer.byteLength(l.message), 0));
    // ~100-byte lines: a handful per message, never more than 2 KiB of text, the 10 KB line alone.
    expect(small.messages.length).toBeGreaterThan(20);
    expect(sizes.slice(0, -1).every((n) => n <= 2048)).toBe(true);
    expect(small.messages.at(-1)?.lines.map((l) => l.message.length)).toEqual([10_000]);
    expect(small.messages.flatMap((m) => m.lines.map((l) => Number(l.log_id)))).toEqual(
      Array.from({ length: 401 }, (_, i) => i + 1),
    );
    const whole = await readStream<Batch>(h.extras(), "StreamLogBatches", { max_batch_bytes: 0 });
    expect(whole.messages).toHaveLength(1);
  });

  it("downloads an artifact byte-identical in chunks of at most 64 KiB", async () => {
    h = await Harness.start();
    const bytes = randomBytes(1024 * 1024 + 12_345);
    const file = path.join(h.dir, "big.bin");
    await fs.writeFile(file, bytes);
    const event = await h.store.addArtifact(1, "dist/big.bin", file);
    const res = await readStream<{ chunk: Buffer }>(h.extras(), "DownloadArtifact", {
      artifact_id: event.artifactId,
    });
    expect(res.code).toBe(GrpcStatus.OK);
    expect(res.messages.every((m) => m.chunk.length > 0 && m.chunk.length <= 64 * 1024)).toBe(true);
    const got = Buffer.concat(res.messages.map((m) => m.chunk));
    expect(got.equals(bytes)).toBe(true);
    expect(createHash("sha256").update(got).digest("hex")).toBe(event.sha256);
  });

  it("answers NOT_FOUND for an unknown artifact and INVALID_ARGUMENT for malformed requests", async () => {
    h = await Harness.start();
    h.store.appendLog(1, "one line");
    h.store.appendStatus(1, "RUNNING");
    const extras = h.extras();
    const worker = h.worker();
    expect((await readStream(extras, "DownloadArtifact", { artifact_id: 42 })).code).toBe(
      GrpcStatus.NOT_FOUND,
    );
    expect((await readStream(extras, "DownloadArtifact", {})).code).toBe(GrpcStatus.INVALID_ARGUMENT);
    const beyond = await readStream(worker, "StreamLogs", { after_log_id: 5 });
    expect(beyond.code).toBe(GrpcStatus.INVALID_ARGUMENT);
    expect(beyond.details).toMatch(/after_log_id 5 is beyond the last id 1/);
    expect((await readStream(worker, "StreamStatusEvents", { after_event_id: 2 })).code).toBe(
      GrpcStatus.INVALID_ARGUMENT,
    );
    expect((await readStream(worker, "StreamArtifactEvents", { after_artifact_id: 1 })).code).toBe(
      GrpcStatus.INVALID_ARGUMENT,
    );
    expect((await readStream(extras, "StreamLogBatches", { max_batch_lines: 1_000_000 })).code).toBe(
      GrpcStatus.INVALID_ARGUMENT,
    );
    expect(await codeOf(callUnary(extras, "Cancel", { reason: "x".repeat(5000) }))).toBe(
      GrpcStatus.INVALID_ARGUMENT,
    );
  });

  it("requires the bearer token on every worker RPC but not on health checks", async () => {
    h = await Harness.start({ token: "s3cret", onCancel: () => {} });
    h.store.appendLog(1, "x");
    await h.store.finish("SUCCESS");
    const worker = h.worker();
    const extras = h.extras();
    for (const md of [undefined, bearer("wrong"), bearer("s3cret ")]) {
      expect((await readStream(worker, "StreamLogs", {}, md)).code).toBe(GrpcStatus.UNAUTHENTICATED);
      expect((await readStream(extras, "StreamLogBatches", {}, md)).code).toBe(GrpcStatus.UNAUTHENTICATED);
      expect((await readStream(extras, "DownloadArtifact", { artifact_id: 1 }, md)).code).toBe(
        GrpcStatus.UNAUTHENTICATED,
      );
      expect(await codeOf(callUnary(extras, "GetBuildSummary", {}, md))).toBe(GrpcStatus.UNAUTHENTICATED);
      expect(await codeOf(callUnary(extras, "Cancel", {}, md))).toBe(GrpcStatus.UNAUTHENTICATED);
      expect(await codeOf(callUnary(extras, "Release", {}, md))).toBe(GrpcStatus.UNAUTHENTICATED);
    }
    const ok = await readStream<{ message: string }>(worker, "StreamLogs", {}, bearer("s3cret"));
    expect(ok.code).toBe(GrpcStatus.OK);
    expect(ok.messages.map((m) => m.message)).toEqual(["x"]);
    const health = await h.health();
    expect(await callUnary(health, "Check", { service: "" })).toEqual({ status: "SERVING" });
    expect(await callUnary(health, "Check", { service: "wharf.worker.v1.Worker" })).toEqual({
      status: "SERVING",
    });
    h.server.setServing(false);
    expect(await callUnary(health, "Check", { service: "" })).toEqual({ status: "NOT_SERVING" });
  });

  it("summarises the build and calls the Cancel and Release callbacks", async () => {
    const cancels: string[] = [];
    let releases = 0;
    h = await Harness.start({
      onCancel: (reason) => {
        cancels.push(reason);
      },
      onRelease: async () => {
        releases++;
      },
    });
    h.store.setSteps([
      { stepId: 1, stage: "build", name: "compile" },
      { stepId: 2, stage: "build", name: "lint" },
    ]);
    h.store.appendLog(1, "compiling");
    h.store.appendStatus(1, "FAILED");
    h.store.recordStepResult(1, { exitCode: 2, attempts: 3 });
    h.store.appendStatus(2, "CANCELLED");
    h.store.recordStepResult(2, { exitCode: null, attempts: 0 });
    const extras = h.extras();
    expect(await callUnary(extras, "Cancel", { reason: "user pressed stop" })).toEqual({});
    expect(cancels).toEqual(["user pressed stop"]);
    await h.store.finish("CANCELLED", "cancelled by user");
    expect(await callUnary(extras, "GetBuildSummary", {})).toEqual({
      build_ref: "build-1",
      status: "STATUS_CANCELLED",
      finished: true,
      last_log_id: "1",
      last_event_id: "3",
      last_artifact_id: "0",
      message: "cancelled by user",
      steps: [
        { step_id: "1", stage: "build", name: "compile", status: "STATUS_FAILED", exit_code: 2, attempts: 3 },
        {
          step_id: "2",
          stage: "build",
          name: "lint",
          status: "STATUS_CANCELLED",
          exit_code: -1,
          attempts: 0,
        },
      ],
    });
    expect(await callUnary(extras, "Release", {})).toEqual({});
    expect(releases).toBe(1);
  });

  it("answers UNIMPLEMENTED to Cancel when the worker has no cancel callback", async () => {
    h = await Harness.start();
    expect(await codeOf(callUnary(h.extras(), "Cancel", { reason: "" }))).toBe(GrpcStatus.UNIMPLEMENTED);
  });
});
