/** A step could not start for a reason of the step itself (missing image, unsupported type). */
export class StepStartError extends Error {
  override readonly name = "StepStartError";
  constructor(
    message: string,
    readonly stepId: number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** The executor's backend itself is broken or unreachable (socket gone, API server down). */
export class ExecutorError extends Error {
  override readonly name = "ExecutorError";
}
