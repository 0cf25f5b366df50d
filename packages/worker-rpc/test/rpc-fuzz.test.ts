import fs from "node:fs/promises";
import path from "node:path";
import * as grpc from "@grpc/grpc-js";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Harness } from "./outside-client.js";

/*
 * Bad input, every method of the worker's gRPC server (wharf.worker.v1.Worker and WorkerExtras, and
 * grpc.health.v1.Health): arbitrary request bytes and field values, with and without the token, sent
 * by a raw client that serializes nothing. Every call ends with OK or a status that names the
 * client's mistake — never INTERNAL, UNKNOWN or UNAVAILABLE — and the server still answers afterwards.
 * Real parts: a finished build in a ResultStore (lines, status events, an artifact) served on loopback.
 */

const TOKEN = "rpc-fuzz-token-5d2b";
let h: Harness;
let client: grpc.Client;
let cancels = 0;
let releases = 0;

beforeAll(async () => {
  h = await Harness.start({
    token: TOKEN,
    shutdownGraceMs: 200,
    onCancel: () => {
      cancels++;
    },
    onRelease: () => {
      releases++;
    },
  });
  h.store.setSteps([{ stepId: 1, stage: "build", name: "compile" }]);
  h.store.appendStatus(1, "RUNNING");
  for (let n = 1; n <= 50; n++) h.store.appendLog(1, `line ${n}`);
  const file = path.join(h.dir, "artifact.bin");
  await fs.writeFile(file, Buffer.alloc(100_000, 7));
  await h.store.addArtifact(1, "dist/artifact.bin", file);
  h.store.appendStatus(1, "SUCCESS");
  await h.store.finish("SUCCESS");
  client = new grpc.Client(h.address, grpc.credentials.createInsecure());
});
afterAll(async () => {
  client?.close();
  await h?.stop();
});

const METHODS: { path: string; stream: boolean }[] = [
  { path: "/wharf.worker.v1.Worker/StreamLogs", stream: true },
  { path: "/wharf.worker.v1.Worker/StreamStatusEvents", stream: true },
  { path: "/wharf.worker.v1.Worker/StreamArtifactEvents", stream: true },
  { path: "/wharf.worker.v1.WorkerExtras/StreamLogBatches", stream: true },
  { path: "/wharf.worker.v1.WorkerExtras/DownloadArtifact", stream: true },
  { path: "/wharf.worker.v1.WorkerExtras/GetBuildSummary", stream: false },
  { path: "/wharf.worker.v1.WorkerExtras/Cancel", stream: false },
  { path: "/wharf.worker.v1.WorkerExtras/Release", stream: false },
  { path: "/grpc.health.v1.Health/Check", stream: false },
  { path: "/grpc.health.v1.Health/Watch", stream: true },
];

/** Statuses that say what was wrong with the request; anything else is the server's fault. */
const CLIENT_STATUSES = new Set<grpc.status>([
  grpc.status.OK,
  grpc.status.INVALID_ARGUMENT,
  grpc.status.UNAUTHENTICATED,
  grpc.status.NOT_FOUND,
  grpc.status.OUT_OF_RANGE,
  grpc.status.FAILED_PRECONDITION,
  grpc.status.RESOURCE_EXHAUSTED,
  grpc.status.UNIMPLEMENTED,
]);

const identity = (b: Buffer) => b;

/**
 * One call with `bytes` as the request message, read to its end. Health's Watch never ends by itself:
 * it is cancelled after its first answer (that CANCELLED is ours). A call that does not end within
 * the deadline is a hang, and fails like a wrong status.
 */
function call(
  method: { path: string; stream: boolean },
  bytes: Buffer,
  metadata: grpc.Metadata,
): Promise<{ code: grpc.status; details: string }> {
  const deadline = Date.now() + 5000;
  return new Promise((resolve) => {
    if (!method.stream) {
      client.makeUnaryRequest(method.path, identity, identity, bytes, metadata, { deadline }, (err) =>
        resolve(err ? { code: err.code, details: err.details } : { code: grpc.status.OK, details: "" }),
      );
      return;
    }
    const watch = method.path.endsWith("/Watch");
    const stream = client.makeServerStreamRequest(method.path, identity, identity, bytes, metadata, {
      deadline,
    });
    stream.on("data", () => {
      if (watch) stream.cancel();
    });
    stream.on("error", () => {}); // the status carries the outcome
    stream.on("status", (s: grpc.StatusObject) => {
      const cancelledByUs = watch && s.code === grpc.status.CANCELLED;
      resolve({ code: cancelledByUs ? grpc.status.OK : s.code, details: s.details });
    });
  });
}

// Protobuf as an adversary writes it: any field number and wire type, varints up to 2^64 - 1 (and
// over-long ones), lengths that lie, groups that never close, cut anywhere.
function varint(n: bigint): number[] {
  const out: number[] = [];
  let v = n;
  do {
    let byte = Number(v & 0x7fn);
    v >>= 7n;
    if (v > 0n) byte |= 0x80;
    out.push(byte);
  } while (v > 0n);
  return out;
}
const field = fc
  .record({
    number: fc.oneof(fc.constantFrom(1, 2, 3, 4, 100, 101), fc.integer({ min: 0, max: 536_870_911 })),
    wire: fc.constantFrom(0, 0, 0, 1, 2, 2, 3, 4, 5, 6, 7),
    value: fc.oneof(
      fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
      fc.constantFrom(0n, 1n, 10_000n, 10_001n, 2n ** 53n, 2n ** 63n, 2n ** 64n - 1n),
    ),
    bytes: fc.uint8Array({ maxLength: 40 }),
    lie: fc.integer({ min: -3, max: 3 }),
  })
  .map(({ number, wire, value, bytes, lie }) => {
    const tag = varint(BigInt(number) * 8n + BigInt(wire));
    switch (wire) {
      case 0:
        return [...tag, ...varint(value)];
      case 1:
        return [...tag, ...bytes.slice(0, 8)];
      case 2:
        return [...tag, ...varint(BigInt(Math.max(0, bytes.length + lie))), ...bytes];
      case 5:
        return [...tag, ...bytes.slice(0, 4)];
      default:
        return tag;
    }
  });
const message = fc.oneof(
  fc.array(field, { maxLength: 6 }).map((fields) => Buffer.from(fields.flat())),
  fc.uint8Array({ maxLength: 64 }).map((b) => Buffer.from(b)),
  fc.tuple(fc.array(field, { minLength: 1, maxLength: 4 }), fc.nat()).map(([fields, cut]) => {
    const all = Buffer.from(fields.flat());
    return all.subarray(0, cut % (all.length + 1));
  }),
);
// (Two authorization values cannot be sent: Node's HTTP/2 refuses them on the client side.)
const credentials = fc.constantFrom("token", "token", "none", "wrong", "listed", "bare").map((kind) => {
  const md = new grpc.Metadata();
  if (kind === "token") md.set("authorization", `Bearer ${TOKEN}`);
  if (kind === "wrong") md.set("authorization", `Bearer ${TOKEN}x`);
  if (kind === "bare") md.set("authorization", "Bearer");
  if (kind === "listed") md.set("authorization", `Bearer ${TOKEN}, Bearer ${TOKEN}`);
  return md;
});

describe("the worker's gRPC server under arbitrary input (fuzz)", () => {
  it("answers every method's arbitrary request bytes with OK or the client's status", async () => {
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...METHODS), message, credentials, async (method, bytes, md) => {
        const { code, details } = await call(method, bytes, md);
        if (!CLIENT_STATUSES.has(code)) {
          throw new Error(`${method.path} ${bytes.toString("hex")} → ${grpc.status[code]}: ${details}`);
        }
        expect(details).not.toContain(TOKEN);
      }),
      { numRuns: 300 },
    );
  });

  it("answers arbitrary field values of well-formed requests the same way", async () => {
    const id = fc.oneof(
      fc.constantFrom(0n, 1n, 49n, 50n, 51n, 2n ** 53n, 2n ** 64n - 1n),
      fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
    );
    const u32 = fc.oneof(
      fc.constantFrom(0n, 1n, 10_000n, 10_001n, 2n ** 32n - 1n),
      fc.bigInt({ min: 0n, max: 2n ** 32n - 1n }),
    );
    const requests = fc.oneof(
      id.map((v) => ["/wharf.worker.v1.Worker/StreamLogs", [100 * 8, v]] as const),
      id.map((v) => ["/wharf.worker.v1.Worker/StreamStatusEvents", [100 * 8, v]] as const),
      id.map((v) => ["/wharf.worker.v1.Worker/StreamArtifactEvents", [100 * 8, v]] as const),
      fc
        .tuple(id, u32, u32)
        .map(
          ([a, b, c]) => ["/wharf.worker.v1.WorkerExtras/StreamLogBatches", [8, a, 16, b, 24, c]] as const,
        ),
      id.map((v) => ["/wharf.worker.v1.WorkerExtras/DownloadArtifact", [8, v]] as const),
    );
    await fc.assert(
      fc.asyncProperty(requests, async ([methodPath, fields]) => {
        const bytes: number[] = [];
        for (let i = 0; i < fields.length; i += 2) {
          bytes.push(...varint(BigInt(fields[i] as number)), ...varint(fields[i + 1] as bigint));
        }
        const method = METHODS.find((m) => m.path === methodPath)!;
        const md = new grpc.Metadata();
        md.set("authorization", `Bearer ${TOKEN}`);
        const { code, details } = await call(method, Buffer.from(bytes), md);
        if (!CLIENT_STATUSES.has(code)) {
          throw new Error(
            `${methodPath} ${Buffer.from(bytes).toString("hex")} → ${grpc.status[code]}: ${details}`,
          );
        }
      }),
      { numRuns: 200 },
    );
    const reasons = fc.string({ unit: "binary", maxLength: 1100 });
    await fc.assert(
      fc.asyncProperty(reasons, async (reason) => {
        const text = Buffer.from(reason, "utf8");
        const bytes = Buffer.concat([Buffer.from([0x0a, ...varint(BigInt(text.length))]), text]);
        const md = new grpc.Metadata();
        md.set("authorization", `Bearer ${TOKEN}`);
        const { code } = await call(
          { path: "/wharf.worker.v1.WorkerExtras/Cancel", stream: false },
          bytes,
          md,
        );
        expect([grpc.status.OK, grpc.status.INVALID_ARGUMENT]).toContain(code);
      }),
      { numRuns: 100 },
    );
  });

  // Found by the properties above: grpc-js answered a request it could not decode with INTERNAL.
  it.each(METHODS)("answers a message that does not decode with INVALID_ARGUMENT: $path", async (method) => {
    const truncated = Buffer.from([0x7f]); // field 15 with wire type 7, which does not exist
    const md = new grpc.Metadata();
    md.set("authorization", `Bearer ${TOKEN}`);
    const withToken = await call(method, truncated, md);
    expect(grpc.status[withToken.code]).toBe("INVALID_ARGUMENT");
    if (!method.path.startsWith("/grpc.health")) {
      // Without the token the answer is the same as for any request: the token is checked first.
      expect(grpc.status[(await call(method, truncated, new grpc.Metadata())).code]).toBe("UNAUTHENTICATED");
    }
  });

  it("still serves health and the build afterwards", async () => {
    const fresh = new grpc.Client(h.address, grpc.credentials.createInsecure());
    try {
      const md = new grpc.Metadata();
      md.set("authorization", `Bearer ${TOKEN}`);
      const health = await new Promise<Buffer>((resolve, reject) =>
        fresh.makeUnaryRequest(
          "/grpc.health.v1.Health/Check",
          identity,
          identity,
          Buffer.alloc(0),
          (err, res) => (err ? reject(err) : resolve(res as Buffer)),
        ),
      );
      expect([...health]).toEqual([0x08, 1]); // SERVING
      const summary = await call(METHODS[5]!, Buffer.alloc(0), md);
      expect(summary.code).toBe(grpc.status.OK);
      expect(h.store.summary()).toMatchObject({ finished: true, lastLogId: 50, lastArtifactId: 1 });
      expect(cancels + releases).toBeGreaterThan(0);
    } finally {
      fresh.close();
    }
  });
});
