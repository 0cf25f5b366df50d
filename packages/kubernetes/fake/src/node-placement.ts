import type { KubeObject, ObjectStore } from "./object-store.js";

/** The label every node carries with its own name. */
export const HOSTNAME_LABEL = "kubernetes.io/hostname";

export interface FakeTaint {
  key: string;
  value?: string;
  effect: "NoSchedule" | "PreferNoSchedule" | "NoExecute";
}

export interface FakeNodeSpec {
  name: string;
  labels?: Record<string, string>;
  taints?: FakeTaint[];
}

/** A node by name alone, or with labels and taints. */
export type FakeNode = string | FakeNodeSpec;

/** Whether a pod's toleration covers a taint, by the API's rules (an empty key with Exists covers all). */
function tolerates(tol: Term, taint: FakeTaint): boolean {
  if (tol.effect && tol.effect !== taint.effect) return false;
  if ((tol.operator ?? "Equal") === "Exists") return !tol.key || tol.key === taint.key;
  return tol.key === taint.key && (tol.value ?? "") === (taint.value ?? "");
}

// biome-ignore lint/suspicious/noExplicitAny: pod specs are open JSON
type Term = Record<string, any>;

function matchesExpression(values: Record<string, string>, e: Term): boolean {
  const value = values[e.key];
  switch (e.operator) {
    case "In":
      return value !== undefined && (e.values ?? []).includes(value);
    case "NotIn":
      return value === undefined || !(e.values ?? []).includes(value);
    case "Exists":
      return value !== undefined;
    case "DoesNotExist":
      return value === undefined;
    default:
      return false;
  }
}

/**
 * The scheduler's and attach/detach controller's part of a cluster of several nodes, as far
 * as builds feel it: which nodes a pod may run on (nodeSelector, required node affinity by
 * label or by `metadata.name`), spreading pods over the nodes that fit, and a
 * ReadWriteOnce claim that can be attached to one node at a time ("Multi-Attach error").
 * Nodes may have labels and taints (NoSchedule and NoExecute keep out pods that do not
 * tolerate them), and unlimited room.
 */
export class NodePlacement {
  private next = 0;
  readonly nodes: readonly Required<FakeNodeSpec>[];

  constructor(
    nodes: readonly FakeNode[],
    private readonly store: ObjectStore,
  ) {
    if (nodes.length === 0) throw new Error("a fake cluster needs at least one node");
    this.nodes = nodes.map((n) =>
      typeof n === "string" ? { name: n, labels: {}, taints: [] } : { labels: {}, taints: [], ...n },
    );
  }

  private tolerated(pod: KubeObject, node: Required<FakeNodeSpec>): boolean {
    const tolerations: Term[] = pod.spec.tolerations ?? [];
    return node.taints
      .filter((t) => t.effect !== "PreferNoSchedule")
      .every((taint) => tolerations.some((tol) => tolerates(tol, taint)));
  }

  private matches(pod: KubeObject, node: Required<FakeNodeSpec>): boolean {
    const labels: Record<string, string> = { ...node.labels, [HOSTNAME_LABEL]: node.name };
    const fields: Record<string, string> = { "metadata.name": node.name };
    for (const [k, v] of Object.entries<string>(pod.spec.nodeSelector ?? {})) {
      if (labels[k] !== v) return false;
    }
    const terms: Term[] =
      pod.spec.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution?.nodeSelectorTerms ??
      [];
    if (terms.length === 0) return true;
    // Terms are ORed; the expressions and fields of one term are ANDed.
    return terms.some(
      (t) =>
        (t.matchExpressions ?? []).every((e: Term) => matchesExpression(labels, e)) &&
        (t.matchFields ?? []).every((e: Term) => matchesExpression(fields, e)),
    );
  }

  /** The node the pod is bound to, or the scheduler's reason it fits none. */
  schedule(pod: KubeObject): { node: string } | { reason: string } {
    const unmatched = this.nodes.filter((n) => !this.matches(pod, n));
    const untolerated = this.nodes.filter((n) => this.matches(pod, n) && !this.tolerated(pod, n));
    const fitting = this.nodes.filter((n) => this.matches(pod, n) && this.tolerated(pod, n));
    if (fitting.length === 0) {
      const why = [
        untolerated.length ? `${untolerated.length} node(s) had taints that the pod didn't tolerate` : "",
        unmatched.length ? `${unmatched.length} node(s) didn't match Pod's node affinity/selector` : "",
      ].filter(Boolean);
      return { reason: `0/${this.nodes.length} nodes are available: ${why.join(", ")}.` };
    }
    // Round robin over the nodes that fit: unpinned pods land on different nodes.
    const node = fitting[this.next % fitting.length]!;
    this.next += 1;
    return { node: node.name };
  }

  /**
   * Why the pod's ReadWriteOnce claims cannot be attached to its node yet: another pod that
   * is not finished uses one of them on another node. Undefined when they can.
   */
  attachConflict(pod: KubeObject): string | undefined {
    const ns = pod.metadata.namespace!;
    for (const volume of pod.spec.volumes ?? []) {
      const claimName: string | undefined = volume.persistentVolumeClaim?.claimName;
      if (!claimName) continue;
      const claim = this.store.get("persistentvolumeclaims", ns, claimName);
      const modes: string[] = claim?.spec?.accessModes ?? [];
      if (!modes.includes("ReadWriteOnce") || modes.includes("ReadWriteMany")) continue;
      const holders = this.store
        .list("pods", ns)
        .filter(
          (p) =>
            p.metadata.uid !== pod.metadata.uid &&
            p.spec.nodeName &&
            p.spec.nodeName !== pod.spec.nodeName &&
            !["Succeeded", "Failed"].includes(p.status?.phase ?? "") &&
            (p.spec.volumes ?? []).some((v: Term) => v.persistentVolumeClaim?.claimName === claimName),
        );
      if (holders.length > 0) {
        return `Multi-Attach error for volume "${claimName}" Volume is already used by pod(s) ${holders.map((p) => p.metadata.name).join(", ")}`;
      }
    }
    return undefined;
  }
}
