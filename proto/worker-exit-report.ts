/**
 * What a worker leaves behind about its build when its process ends, for a provisioner
 * that can no longer ask it (the worker pod was released and has exited): on Kubernetes the
 * container's termination message (`terminationMessagePath`, which the kubelet copies into
 * the pod's status). Written when the build finishes, so a worker killed later still leaves
 * its result; a worker that never finished leaves none.
 */
export interface WorkerExitReport {
  status: "Success" | "Failed" | "Cancelled";
  message: string;
}

/** The kubelet keeps at most this many bytes of a termination message. */
export const TERMINATION_MESSAGE_LIMIT = 4096;

const STATUSES = new Set<string>(["Success", "Failed", "Cancelled"]);

/** JSON within TERMINATION_MESSAGE_LIMIT bytes: the message is cut (on a character) to fit. */
export function encodeWorkerExitReport(report: WorkerExitReport): string {
  let message = report.message;
  for (;;) {
    const text = JSON.stringify({ status: report.status, message });
    if (Buffer.byteLength(text) <= TERMINATION_MESSAGE_LIMIT) return text;
    message = `${[...message].slice(0, Math.max(0, [...message].length - 64)).join("")}`;
  }
}

/** The report in a termination message, or undefined when there is none or it is not one. */
export function decodeWorkerExitReport(text: string | undefined): WorkerExitReport | undefined {
  if (!text) return undefined;
  try {
    const parsed = JSON.parse(text) as Partial<WorkerExitReport>;
    if (typeof parsed.status !== "string" || !STATUSES.has(parsed.status)) return undefined;
    return { status: parsed.status, message: typeof parsed.message === "string" ? parsed.message : "" };
  } catch {
    return undefined;
  }
}
