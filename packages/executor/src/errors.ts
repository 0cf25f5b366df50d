/**
 * A step could not start for a reason of the step itself (missing image, unsupported type).
 * `permanent`: no attempt can succeed (unsupported step type, invalid spec, missing Secret),
 * so the engine fails the step at once instead of retrying it. Set by the thrower, or taken
 * from the cause when the cause is itself marked `permanent: true` (`isPermanentError`).
 * Left false, the failure may be transient (an image pull) and a step with `retries` retries.
 */
export class StepStartError extends Error {
  override readonly name = "StepStartError";
  readonly permanent: boolean;
  constructor(
    message: string,
    readonly stepId: number,
    options?: { cause?: unknown; permanent?: boolean },
  ) {
    super(message, options);
    this.permanent = options?.permanent ?? isPermanentError(options?.cause);
  }
}

/**
 * True for an error that says it can never succeed when tried again: any error object with
 * `permanent === true` (a StepStartError so made, or an executor's own spec error class).
 */
export function isPermanentError(err: unknown): boolean {
  return typeof err === "object" && err !== null && (err as { permanent?: unknown }).permanent === true;
}

/** The executor's backend itself is broken or unreachable (socket gone, API server down). */
export class ExecutorError extends Error {
  override readonly name = "ExecutorError";
}
