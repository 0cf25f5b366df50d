/**
 * Test doubles of the engine's two seams, kept out of the production index (as
 * `@temporalio/testing` is): an Executor that runs scripted steps in memory and a
 * BuildRecorder that keeps everything it is given.
 */
export { type FakeCall, FakeExecutor, type FakeExecutorOptions } from "./fake-executor.js";
export { type FakeCommand, FakeStepProcess } from "./fake-step-process.js";
export {
  MemoryRecorder,
  type RecordedArtifact,
  type RecordedLog,
  type RecordedStatus,
} from "./memory-recorder.js";
