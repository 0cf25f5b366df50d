/**
 * The labels on what wharf creates (worker pods and containers, step pods and containers,
 * volumes, claims), between the processes that set and read them: the provisioner creates
 * workers with them, the aggregator discovers workers by them, the executors find their
 * leftovers by them. The one definition; everything else names these.
 * (A subpath of its own: no gRPC is loaded for it.)
 */
export const WHARF_LABELS = {
  instance: "wharf.iver.com/instance",
  buildId: "wharf.iver.com/build-ref",
  projectId: "wharf.iver.com/project-id",
  workerId: "wharf.iver.com/worker-id",
  /** The worker's gRPC port, so a reader need not parse the container or pod spec. */
  grpcPort: "wharf.iver.com/grpc-port",
  /**
   * `worker` on a worker container (Docker, Podman): its step containers carry its worker id
   * too, and must never be taken for it.
   */
  component: "wharf.iver.com/component",
  /**
   * `true` on a worker container started ahead of its build (a standby, Docker and Podman):
   * it has no worker id, build-ref nor project-id label, as labels cannot change once it runs;
   * a build that takes it renames it (see ./worker-identity.ts).
   */
  standby: "wharf.iver.com/standby",
  stepId: "wharf.iver.com/step-id",
  stepName: "wharf.iver.com/step-name",
  /**
   * Marks what an executor created. The worker's own container or pod carries the same
   * build-ref label (the provisioner puts it there), so cleanup by build ref alone would
   * remove the worker itself; cleanup always matches this label too.
   */
  createdBy: "wharf.iver.com/created-by",
  /**
   * Step caches that outlive builds (Docker/Podman volumes): the cache's key (project, branch
   * and paths, hashed), the generation (sortable), and on a generation's ready mark its size in
   * bytes. They carry no build ref nor worker id, so no leftover sweep takes them for a build's.
   */
  cacheKey: "wharf.iver.com/cache-key",
  cacheGeneration: "wharf.iver.com/cache-generation",
  cacheBytes: "wharf.iver.com/cache-bytes",
  /** `data` on the volume holding a generation's files, `ready` on its mark, created once they are complete. */
  cacheRole: "wharf.iver.com/cache-role",
} as const;

/** The value of WHARF_LABELS.component on worker containers. */
export const WORKER_COMPONENT = "worker";
/** The value of WHARF_LABELS.createdBy on what executors create. */
export const CREATED_BY_EXECUTOR = "wharf-executor";
