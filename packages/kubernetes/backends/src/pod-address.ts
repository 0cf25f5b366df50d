import type { V1Pod } from "@kubernetes/client-node";
import { WORKER_CONTAINER, WORKER_POD_LABELS } from "@wharf/kube-manifests";

const DEFAULT_GRPC_PORT = 5010;

/** The worker's gRPC port: the pod's grpc-port label, else the container's "grpc" port, else 5010. */
export function podGrpcPort(pod: V1Pod): number {
  const label = Number(pod.metadata?.labels?.[WORKER_POD_LABELS.grpcPort]);
  if (Number.isInteger(label) && label > 0 && label < 65536) return label;
  const container = pod.spec?.containers.find((c) => c.name === WORKER_CONTAINER);
  return container?.ports?.find((p) => p.name === "grpc")?.containerPort ?? DEFAULT_GRPC_PORT;
}

/** `podIP:port` (IPv6 in brackets) once the pod has an IP. */
export function podAddress(pod: V1Pod): string | undefined {
  const ip = pod.status?.podIP;
  if (!ip) return undefined;
  return `${ip.includes(":") ? `[${ip}]` : ip}:${podGrpcPort(pod)}`;
}
