import type { CoreV1Api, V1Pod } from "@kubernetes/client-node";

const EVENT_LIMIT = 5;
const LOG_TAIL_LINES = 20;

/**
 * Warning events that say nothing about why a build's pod failed: the node's DNS setup, which
 * the kubelet reports for every pod it starts there.
 */
const NOISE_REASONS = new Set(["MissingClusterDNS", "DNSConfigForming"]);

/**
 * What a person needs to see why a worker pod failed or is stuck, the cause first: the tail of
 * each container's log that ran (the clone's git error, the worker's crash), then the Warning
 * events (pull, scheduling, mount failures) but the node's DNS notices. Best effort: a failed
 * read is left out.
 */
export async function podDiagnostics(api: CoreV1Api, pod: V1Pod): Promise<string> {
  const namespace = pod.metadata?.namespace as string;
  const name = pod.metadata?.name as string;
  const parts: string[] = [];
  const statuses = [...(pod.status?.initContainerStatuses ?? []), ...(pod.status?.containerStatuses ?? [])];
  for (const s of statuses) {
    if (!s.state?.terminated) continue;
    try {
      const log = await api.readNamespacedPodLog({
        name,
        namespace,
        container: s.name,
        tailLines: LOG_TAIL_LINES,
      });
      const text = String(log ?? "").trimEnd();
      if (text) parts.push(`${s.name} log (exit ${s.state.terminated.exitCode}):\n${text}`);
    } catch {
      // the log may be gone with the container
    }
  }
  try {
    const events = await api.listNamespacedEvent({
      namespace,
      fieldSelector: `involvedObject.name=${name}`,
    });
    const warnings = events.items
      .filter((e) => e.type === "Warning" && !NOISE_REASONS.has(e.reason ?? ""))
      .slice(-EVENT_LIMIT);
    for (const e of warnings) parts.push(`event ${e.reason}: ${e.message}`);
  } catch {
    // events are optional context
  }
  return parts.join("\n");
}
