/*
 * wharf.worker.v1 messages as @wharf/proto's loader shapes them (camelCase fields, uint64 and int64
 * as numbers, enums as numbers): what the worker's server sends and every client of it reads.
 * Generated from worker.proto (proto/generated, scripts/gen-proto-types.mjs); these are the
 * names the code uses.
 */
import type { Timestamp__Output } from "./generated/google/protobuf/Timestamp.js";
import type { DownloadArtifactResponse__Output } from "./generated/wharf/worker/v1/DownloadArtifactResponse.js";
import type { GetBuildSummaryResponse__Output } from "./generated/wharf/worker/v1/GetBuildSummaryResponse.js";
import type { StepSummary__Output } from "./generated/wharf/worker/v1/StepSummary.js";
import type { StreamArtifactEventsResponse__Output } from "./generated/wharf/worker/v1/StreamArtifactEventsResponse.js";
import type { StreamLogsResponse__Output } from "./generated/wharf/worker/v1/StreamLogsResponse.js";
import type { StreamProgressResponse__Output } from "./generated/wharf/worker/v1/StreamProgressResponse.js";
import type { StreamStatusEventsResponse__Output } from "./generated/wharf/worker/v1/StreamStatusEventsResponse.js";

export type WireTimestamp = Timestamp__Output;
export type WireLogLine = StreamLogsResponse__Output;
export type WireStatusEvent = StreamStatusEventsResponse__Output;
/** StreamProgressResponse: a step's unfinished progress line ("" once its next line came). */
export type WireProgressLine = StreamProgressResponse__Output;
export type WireArtifactEvent = StreamArtifactEventsResponse__Output;
export type WireStepSummary = StepSummary__Output;
export type WireBuildSummary = GetBuildSummaryResponse__Output;
/** DownloadArtifactResponse: one chunk of an artifact's bytes. */
export type WireArtifactChunk = DownloadArtifactResponse__Output;
export type { StreamLogBatchesRequest__Output as WireLogBatchesRequest } from "./generated/wharf/worker/v1/StreamLogBatchesRequest.js";
export type { WorkerClient, WorkerHandlers } from "./generated/wharf/worker/v1/Worker.js";
export type { WorkerExtrasClient, WorkerExtrasHandlers } from "./generated/wharf/worker/v1/WorkerExtras.js";
