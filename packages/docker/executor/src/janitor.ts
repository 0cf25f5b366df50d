import { WHARF_LABELS } from "@wharf/proto/labels";
import { workerIdentity } from "@wharf/proto/worker-identity";
import Docker from "dockerode";
import { acquireJanitorLock } from "./janitor-lock.js";
import type { JanitorOptions } from "./janitor-options.js";
import { type Inventory, type JanitorObject, selectLeftovers } from "./janitor-select.js";
import { podmanImageCache } from "./podman-image-cache.js";

export { JANITOR_LOCK_NAME, JanitorBusyError } from "./janitor-lock.js";
export { compileJanitorOptions, type JanitorFlags, type JanitorOptions } from "./janitor-options.js";
export type { JanitorObject } from "./janitor-select.js";

/** What one run of the janitor removed (or, dry, would remove). */
export interface JanitorReport {
  dryRun: boolean;
  removed: JanitorObject[];
  /** Selected, but the engine said it is in use (a container started again, an image a container uses). */
  skipped: (JanitorObject & { reason: string })[];
  counts: { containers: number; volumes: number; networks: number; images: number };
  /** Bytes freed by what was removed, build cache included, as far as the engine reports sizes. */
  bytes: number;
  /**
   * Only with a budget: the build cache trimmed to it (Docker: BuildKit's cache by `keep-storage`;
   * Podman: its untagged image chains, see podman-image-cache.ts, counted in `removed` too);
   * `supported: false` where the engine answers neither.
   */
  buildCache?: { budget: number; bytes: number; supported: boolean };
}

/**
 * Removes, under the engine's janitor lock, what crashed workers left behind (see
 * selectLeftovers for which), then, if asked, dangling images not labelled `keep` and the
 * build cache above its budget. Throws JanitorBusyError when another janitor holds the lock.
 */
export async function runJanitor(docker: Docker, opts: JanitorOptions): Promise<JanitorReport> {
  const lock = await acquireJanitorLock(docker, {
    staleMs: opts.lockStaleMs,
    ...(opts.lockName ? { name: opts.lockName } : {}),
  });
  try {
    return await sweep(docker, opts);
  } finally {
    await lock.release();
  }
}

/** The engine at `socketPath`, else that of $DOCKER_HOST (else the default socket), as the docker CLI would reach it. */
export function defaultEngine(socketPath?: string): Docker {
  return socketPath ? new Docker({ socketPath }) : new Docker();
}

async function sweep(docker: Docker, opts: JanitorOptions): Promise<JanitorReport> {
  const selected = selectLeftovers(await inventory(docker), opts, Date.now());
  if (opts.images) selected.push(...(await danglingImages(docker, opts.labels)));
  const report: JanitorReport = {
    dryRun: opts.dryRun,
    removed: [],
    skipped: [],
    counts: { containers: 0, volumes: 0, networks: 0, images: 0 },
    bytes: 0,
  };
  // Containers first: a volume or network goes only once no container refers to it.
  await removeAll(docker, selected, report);
  const budget = opts.buildCacheBudget;
  if (budget !== undefined && (await isPodman(docker))) {
    // Podman's build cache is images (see podman-image-cache.ts): removed like the others.
    const before = report.bytes;
    await removeAll(docker, await podmanImageCache(docker, budget, opts.labels), report);
    report.buildCache = { budget, bytes: report.bytes - before, supported: true };
  } else if (budget !== undefined) {
    report.buildCache = await trimBuildCache(docker, budget, opts.dryRun);
    report.bytes += report.buildCache.bytes;
  }
  return report;
}

/** Removes each object (dry run: none), counting what went in the report and what the engine refused. */
async function removeAll(docker: Docker, objects: JanitorObject[], report: JanitorReport): Promise<void> {
  for (const obj of objects) {
    if (!report.dryRun) {
      const outcome = await remove(docker, obj);
      if (outcome === "gone") continue;
      if (outcome !== "removed") {
        report.skipped.push({ ...obj, reason: outcome });
        continue;
      }
    }
    report.removed.push(obj);
    report.counts[`${obj.kind}s`]++;
    report.bytes += obj.bytes;
  }
}

async function isPodman(docker: Docker): Promise<boolean> {
  const version = (await docker.version()) as { Components?: { Name: string }[] };
  return version.Components?.some((c) => /podman/i.test(c.Name)) ?? false;
}

async function inventory(docker: Docker): Promise<Inventory> {
  const filters = JSON.stringify({ label: [WHARF_LABELS.workerId] });
  // Worker containers that began as standbys carry their worker id in their name, not a label.
  const standbyFilters = JSON.stringify({ label: [`${WHARF_LABELS.standby}=true`] });
  const [labelled, standbyBorn, volumes, networks, sizes] = await Promise.all([
    docker.listContainers({ all: true, size: true, filters }),
    docker.listContainers({ all: true, size: true, filters: standbyFilters }),
    docker.listVolumes({ filters }),
    docker.listNetworks({ filters }),
    volumeSizes(docker),
  ]);
  const containers = [
    ...labelled,
    ...standbyBorn.flatMap((c) => {
      const identity = workerIdentity(c);
      if (!identity || c.Labels?.[WHARF_LABELS.workerId]) return [];
      return [{ ...c, Labels: { ...c.Labels, [WHARF_LABELS.workerId]: identity.workerId } }];
    }),
  ];
  return {
    containers: await Promise.all(
      containers.map(async (c) => ({
        id: c.Id,
        state: c.State,
        labels: c.Labels ?? {},
        createdMs: c.Created * 1000,
        ...(c.State === "exited" || c.State === "dead" ? { finishedMs: await finishedMs(docker, c.Id) } : {}),
        bytes: (c as { SizeRw?: number }).SizeRw ?? 0,
      })),
    ),
    volumes: (volumes.Volumes ?? []).map((v) => ({
      name: v.Name,
      labels: v.Labels ?? {},
      createdMs: createdMs((v as { CreatedAt?: string }).CreatedAt),
      bytes: Math.max(0, sizes.get(v.Name) ?? 0),
    })),
    networks: networks.map((n) => ({
      name: n.Name,
      labels: n.Labels ?? {},
      createdMs: createdMs(n.Created),
    })),
  };
}

/** When a container ended (the list tells only "Exited (1) 2 minutes ago"); unknown: now. */
async function finishedMs(docker: Docker, id: string): Promise<number> {
  const info = await docker
    .getContainer(id)
    .inspect()
    .catch(() => undefined);
  return createdMs(info?.State.FinishedAt);
}

/** An unknown creation time counts as "just now": too young to go on age alone. */
function createdMs(text: string | undefined): number {
  const ms = text ? Date.parse(text) : Number.NaN;
  return Number.isNaN(ms) ? Date.now() : ms;
}

/** Volume sizes from `system df`; an engine that does not tell (or fails to) gives none. */
async function volumeSizes(docker: Docker): Promise<Map<string, number>> {
  try {
    const df = (await docker.df()) as { Volumes?: { Name: string; UsageData?: { Size?: number } | null }[] };
    return new Map((df.Volumes ?? []).map((v) => [v.Name, v.UsageData?.Size ?? 0]));
  } catch {
    return new Map();
  }
}

/** Dangling images (no tag) not labelled `keep`, as Akkeris' `docker system prune --filter label!=keep`. */
async function danglingImages(docker: Docker, labels: Record<string, string>): Promise<JanitorObject[]> {
  // The labels are matched here, not in the filter: Podman 4.3 lists nothing for two label filters.
  const images = await docker.listImages({ filters: JSON.stringify({ dangling: ["true"] }) });
  return images
    .filter((i) => !(i.Labels && "keep" in i.Labels))
    .filter((i) => Object.entries(labels).every(([k, v]) => i.Labels?.[k] === v))
    .map((i) => ({ kind: "image" as const, id: i.Id, bytes: Math.max(0, i.Size ?? 0) }));
}

type Outcome = "removed" | "gone" | string;

/** Never forced: what the engine refuses (a container started since, an image in use) is skipped. */
async function remove(docker: Docker, obj: JanitorObject): Promise<Outcome> {
  try {
    if (obj.kind === "container") await docker.getContainer(obj.id).remove({ v: false });
    else if (obj.kind === "volume") await docker.getVolume(obj.id).remove();
    else if (obj.kind === "network") await docker.getNetwork(obj.id).remove();
    else await docker.getImage(obj.id).remove();
    return "removed";
  } catch (err) {
    const e = err as { statusCode?: number; message?: string };
    if (e.statusCode === 404) return "gone";
    // In use: Docker 409 (403 for a network with endpoints), Podman 500 for a network.
    if (e.statusCode === 409 || e.statusCode === 403 || (e.statusCode === 500 && obj.kind === "network"))
      return `in use: ${(e.message ?? "").trim()}`;
    throw err;
  }
}

async function trimBuildCache(
  docker: Docker,
  budget: number,
  dryRun: boolean,
): Promise<NonNullable<JanitorReport["buildCache"]>> {
  try {
    if (dryRun) {
      // Docker reports no BuildCache (null) while the cache is empty.
      const df = (await docker.df()) as { BuildCache?: { Size?: number }[] | null };
      const total = (df.BuildCache ?? []).reduce((sum, c) => sum + Math.max(0, c.Size ?? 0), 0);
      return { budget, bytes: Math.max(0, total - budget), supported: true };
    }
    // `keep-storage`: the engine keeps the most recently used cache up to this many bytes.
    const res = await docker.pruneBuilder({ "keep-storage": budget } as Docker.PruneBuilderOptions);
    return { budget, bytes: res.SpaceReclaimed ?? 0, supported: true };
  } catch (err) {
    const code = (err as { statusCode?: number }).statusCode;
    if (code === 404 || code === 501) return { budget, bytes: 0, supported: false };
    throw err;
  }
}

/** "janitor: removed 2 containers, 1 volume, 1 network, 0 images; reclaimed 1.2 MB". */
export function summaryLine(r: JanitorReport): string {
  const n = (count: number, word: string) => `${count} ${word}${count === 1 ? "" : "s"}`;
  const { containers, volumes, networks, images } = r.counts;
  const cache = r.buildCache
    ? `; build cache ${r.buildCache.supported ? `trimmed to ${mb(r.buildCache.budget)}` : "left alone (not supported by the engine)"}`
    : "";
  return (
    `janitor: ${r.dryRun ? "would remove" : "removed"} ${n(containers, "container")}, ${n(volumes, "volume")}, ` +
    `${n(networks, "network")}, ${n(images, "image")}${cache}; ` +
    `${r.dryRun ? "would reclaim" : "reclaimed"} ${mb(r.bytes)}` +
    (r.skipped.length ? `; skipped ${r.skipped.length} in use` : "")
  );
}

const mb = (bytes: number) => `${(bytes / 1e6).toFixed(1)} MB`;
