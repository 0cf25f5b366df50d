import type * as grpc from "@grpc/grpc-js";
import { status as GrpcStatus } from "@grpc/grpc-js";
import type { WireLogBatchesRequest, WorkerExtrasHandlers, WorkerHandlers } from "@wharf/proto";
import type { LogRecordBatch, ResultStore } from "@wharf/result-store";
import type { BearerAuth } from "./bearer-auth.js";
import { type LiveStreams, streamHandler, unaryHandler } from "./call-handlers.js";
import { invalidArgument, RpcStatusError } from "./rpc-errors.js";
import {
  artifactEventToWire,
  logLineToWire,
  progressLineToWire,
  statusEventToWire,
  summaryToWire,
} from "./wire.js";

/** What the server reads from: the result store, or anything shaped like its read side. */
export type WorkerResultSource = Pick<
  ResultStore,
  "followLogs" | "followLogRecords" | "followStatus" | "followArtifacts" | "openArtifact" | "summary"
> &
  Partial<Pick<ResultStore, "followProgress">>;

export interface HandlerContext {
  store: WorkerResultSource;
  auth: BearerAuth;
  streams: LiveStreams;
  onCancel?: ((reason: string) => void | Promise<void>) | undefined;
  onRelease?: (() => void | Promise<void>) | undefined;
}

export const DEFAULT_BATCH_LINES = 1000;
export const MAX_BATCH_LINES = 10_000;
/** Record bytes per batch message: far below gRPC's default 4 MiB receive limit. */
const BATCH_BYTES = 1024 * 1024;
export const ARTIFACT_CHUNK_BYTES = 64 * 1024;
const MAX_CANCEL_REASON = 1024;

/**
 * WorkerExtras' handlers as generated, but for StreamLogBatches, which sends the store's record
 * batches as read from disk: the service is registered withLogBatchEncoder, whose serializer
 * writes the StreamLogBatchesResponse bytes straight from them.
 */
type ExtrasHandlers = {
  [K in keyof WorkerExtrasHandlers as K extends "StreamLogBatches" ? never : K]: WorkerExtrasHandlers[K];
} & { StreamLogBatches: grpc.handleServerStreamingCall<WireLogBatchesRequest, LogRecordBatch> };

/**
 * A resume id must name something that exists: a client cannot have received an id beyond the last
 * one, so such a request is malformed (or meant for another build).
 */
function resumeId(value: unknown, last: number, field: string): number {
  const id = Number(value ?? 0);
  if (!Number.isSafeInteger(id) || id < 0) throw invalidArgument(`${field} must be a non-negative integer`);
  if (id > last) throw invalidArgument(`${field} ${id} is beyond the last id ${last}`);
  return id;
}

/** wharf.worker.v1.Worker: the wharf-cmd-compatible streams. */
export function workerHandlers(ctx: HandlerContext): WorkerHandlers {
  const { store, auth, streams } = ctx;
  return {
    StreamLogs: streamHandler(auth, streams, async (req, send, signal) => {
      const after = resumeId(req.afterLogId, store.summary().lastLogId, "after_log_id");
      for await (const batch of store.followLogs(after, { signal, maxBatchBytes: BATCH_BYTES })) {
        for (const line of batch) {
          if (signal.aborted) return;
          await send(logLineToWire(line));
        }
      }
    }),
    StreamStatusEvents: streamHandler(auth, streams, async (req, send, signal) => {
      const after = resumeId(req.afterEventId, store.summary().lastEventId, "after_event_id");
      for await (const event of store.followStatus(after, { signal })) await send(statusEventToWire(event));
    }),
    StreamArtifactEvents: streamHandler(auth, streams, async (req, send, signal) => {
      const after = resumeId(req.afterArtifactId, store.summary().lastArtifactId, "after_artifact_id");
      for await (const event of store.followArtifacts(after, { signal }))
        await send(artifactEventToWire(event));
    }),
  };
}

/** wharf.worker.v1.WorkerExtras: our additions. */
export function extrasHandlers(ctx: HandlerContext): ExtrasHandlers {
  const { store, auth, streams } = ctx;
  return {
    // Record batches, not messages: see ExtrasHandlers.
    StreamLogBatches: streamHandler(auth, streams, async (req, send, signal) => {
      const after = resumeId(req.afterLogId, store.summary().lastLogId, "after_log_id");
      const maxBatch = Number(req.maxBatchLines ?? 0) || DEFAULT_BATCH_LINES;
      if (maxBatch > MAX_BATCH_LINES) throw invalidArgument(`max_batch_lines must be <= ${MAX_BATCH_LINES}`);
      const maxBatchBytes = Math.min(Number(req.maxBatchBytes ?? 0) || BATCH_BYTES, BATCH_BYTES);
      for await (const batch of store.followLogRecords(after, { signal, maxBatch, maxBatchBytes })) {
        await send(batch);
      }
    }),
    DownloadArtifact: streamHandler(auth, streams, async (req, send, signal) => {
      const id = Number(req.artifactId ?? 0);
      if (!Number.isSafeInteger(id) || id < 1)
        throw invalidArgument("artifact_id must be a positive integer");
      const file = store.openArtifact(id);
      try {
        for await (const chunk of file.iterator({ destroyOnReturn: true })) {
          if (signal.aborted) return;
          // createReadStream chunks are 64 KiB at most by default; slice anyway to keep the promise.
          const bytes = chunk as Buffer;
          for (let at = 0; at < bytes.length; at += ARTIFACT_CHUNK_BYTES) {
            await send({ chunk: bytes.subarray(at, at + ARTIFACT_CHUNK_BYTES) });
          }
        }
      } finally {
        file.destroy();
      }
    }),
    StreamProgress: streamHandler(auth, streams, async (_req, send, signal) => {
      // A source without progress lines has none to show: the stream ends with the build.
      if (!store.followProgress) return;
      for await (const line of store.followProgress({ signal })) await send(progressLineToWire(line));
    }),
    GetBuildSummary: unaryHandler(auth, () => summaryToWire(store.summary())),
    Cancel: unaryHandler(auth, async (req) => {
      const reason = req.reason ?? "";
      if (reason.length > MAX_CANCEL_REASON)
        throw invalidArgument(`reason is longer than ${MAX_CANCEL_REASON}`);
      if (!ctx.onCancel)
        throw new RpcStatusError(GrpcStatus.UNIMPLEMENTED, "this worker cannot be cancelled");
      await ctx.onCancel(reason);
      return {};
    }),
    Release: unaryHandler(auth, async () => {
      await ctx.onRelease?.();
      return {};
    }),
  };
}
