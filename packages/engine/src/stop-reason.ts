/**
 * Why the engine stops steps before they end on their own. Used as the `reason` of the
 * AbortSignals the engine passes down from the build to the stages and steps.
 */
export type StopReason =
  | { kind: "cancel" }
  | { kind: "build-timeout"; timeoutMs: number }
  | { kind: "sibling-failed"; stepName: string };

export function isStopReason(value: unknown): value is StopReason {
  const kind = (value as { kind?: unknown } | null)?.kind;
  return kind === "cancel" || kind === "build-timeout" || kind === "sibling-failed";
}

/** The reason of an aborted engine signal; anything foreign counts as a cancel. */
export function stopReasonOf(signal: AbortSignal): StopReason {
  return isStopReason(signal.reason) ? signal.reason : { kind: "cancel" };
}

/** The log line a step stopped for `reason` gets. */
export function stopMessage(reason: StopReason): string {
  switch (reason.kind) {
    case "cancel":
      return "cancelled: the build was cancelled";
    case "build-timeout":
      return `build timed out after ${formatDuration(reason.timeoutMs)}`;
    case "sibling-failed":
      return `cancelled: step "${reason.stepName}" of this stage failed`;
  }
}

/** "250ms", "1.5s", "2m", "1h5m": short and exact enough for log lines. */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`;
  if (ms < 60_000) return `${Number((ms / 1000).toFixed(1))}s`;
  const totalSeconds = Math.round(ms / 1000);
  const h = Math.floor(totalSeconds / 3600);
  const m = Math.floor((totalSeconds % 3600) / 60);
  const s = totalSeconds % 60;
  return `${h ? `${h}h` : ""}${m ? `${m}m` : ""}${s ? `${s}s` : ""}`;
}
