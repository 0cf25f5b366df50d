import readline from "node:readline";

/** One JSON line of the engine's progress streams (pull, push, build, import). */
export interface ProgressEvent {
  stream?: string;
  status?: string;
  progress?: string;
  id?: string;
  error?: string;
  errorDetail?: { message?: string };
  aux?: { ID?: string };
}

/** The engine reported a failure inside an otherwise successful (HTTP 200) progress stream. */
export class EngineProgressError extends Error {
  override readonly name = "EngineProgressError";
}

/**
 * Reads a progress stream to its end, passing each event to `onEvent`, and throws on an
 * `error` event. Unlike `modem.followProgress` a malformed line is passed on as text
 * instead of throwing inside a stream handler, and reading applies backpressure.
 */
export async function readProgress(
  stream: NodeJS.ReadableStream,
  onEvent: (event: ProgressEvent) => void = () => {},
): Promise<void> {
  let failure: string | undefined;
  for await (const line of readline.createInterface({ input: stream, crlfDelay: Number.POSITIVE_INFINITY })) {
    if (line.trim() === "") continue;
    let event: ProgressEvent;
    try {
      event = JSON.parse(line) as ProgressEvent;
    } catch {
      event = { stream: `${line}\n` };
    }
    if (event.error || event.errorDetail?.message) failure ??= event.error ?? event.errorDetail?.message;
    onEvent(event);
  }
  if (failure !== undefined) throw new EngineProgressError(failure);
}

/**
 * `work`, or a rejection with the signal's reason as soon as `signal` aborts: a stream
 * aborted under readline does not always end its iteration.
 */
export function abortable<T>(work: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return work;
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    work.then(resolve, reject).finally(() => signal.removeEventListener("abort", onAbort));
  });
}
