import path from "node:path";
import type { Logger } from "@wharf/config";
import {
  type BuildSpec,
  type CacheEntry,
  type CacheRestore,
  type CacheSave,
  type CacheScope,
  cacheKey,
  cachePaths,
  generationMs,
  newGeneration,
  type PlanStep,
  restoreNewest,
  type StepCaches,
  selectEvictions,
} from "@wharf/executor";
import { WHARF_LABELS } from "@wharf/proto/labels";
import type Docker from "dockerode";
import { extract, type Pack, pack } from "tar-stream";
import {
  CACHE_MOUNT,
  type CacheVolumeFacts,
  cacheDataVolume,
  cacheDataVolumeOptions,
  cacheHelperOptions,
  cacheReadyVolume,
  cacheReadyVolumeOptions,
  readyMark,
} from "./cache-volume-spec.js";
import { hasLabels, helperContainerName, labelFilter } from "./container-spec.js";

type ScopedBuild = BuildSpec & { cache: CacheScope };

/** A data volume without its ready mark this old is a save that died (or lost a race): removed. */
const ORPHAN_AGE_MS = 60 * 60_000;

/**
 * Step caches as named volumes of the engine, one pair per generation (see cache-volume-spec):
 * a save fills a fresh data volume and then creates its ready mark; a restore reads the newest
 * ready generation of its key through a helper container, which pins the volume against
 * removal while it is read. Files move through the engine's archive API, like the workspace,
 * so no host path and no image beyond the empty helper is needed. The last use of a
 * generation is its save (labels cannot change), so eviction is by last save: every build
 * whose step succeeds saves, which keeps a cache in use young.
 */
export class VolumeCaches implements StepCaches {
  constructor(
    private readonly docker: Docker,
    private readonly helperImage: string,
    private readonly workspacePath: string,
    private readonly maxBytes: number,
    private readonly log: Logger,
    /** Resolves once the build's workspace holds its source (the executor fills it as steps start). */
    private readonly workspaceFilled: (build: BuildSpec) => Promise<void> = async () => {},
  ) {}

  async restore(build: ScopedBuild, step: PlanStep): Promise<CacheRestore> {
    await this.workspaceFilled(build);
    return restoreNewest(
      build.cache,
      cachePaths(step),
      (key) => this.readyMarks({ [WHARF_LABELS.cacheKey]: key }),
      async (_key, mark) => {
        const helper = await this.pin(build, mark.generation);
        if (!helper) return null;
        try {
          const tar = await helper.getArchive({ path: `${CACHE_MOUNT}/.` });
          await this.docker
            .getContainer(helperContainerName(build.buildRef))
            .putArchive(tar, { path: this.workspacePath });
          return mark.bytes;
        } finally {
          await helper.remove({ force: true }).catch(() => {});
        }
      },
    );
  }

  async save(build: ScopedBuild, step: PlanStep): Promise<CacheSave> {
    await this.workspaceFilled(build);
    const paths = cachePaths(step);
    const facts: CacheVolumeFacts = {
      key: cacheKey(build.cache.project, build.cache.branch, paths),
      generation: newGeneration(),
      project: build.cache.project,
    };
    await this.docker.createVolume(cacheDataVolumeOptions(facts));
    let published = false;
    try {
      const helper = await this.docker.createContainer(
        cacheHelperOptions(build, this.helperImage, facts.generation),
      );
      let bytes = 0;
      let found = 0;
      try {
        const out = pack();
        const put = helper.putArchive(out as unknown as NodeJS.ReadableStream, { path: CACHE_MOUNT });
        try {
          for (const rel of paths) {
            const appended = await this.appendWorkspacePath(build, rel, out);
            if (appended !== null) [bytes, found] = [bytes + appended, found + 1];
          }
        } finally {
          out.finalize();
        }
        await put;
      } finally {
        await helper.remove({ force: true }).catch(() => {});
      }
      // The step left none of the paths: keep the cache there is rather than publish an empty one.
      if (found === 0) return { bytes: 0, evicted: 0 };
      // Published only now: everything above is complete in the data volume.
      await this.docker.createVolume(cacheReadyVolumeOptions(facts, bytes));
      published = true;
      return { bytes, evicted: await this.evict(facts.key) };
    } finally {
      if (!published) await removeVolume(this.docker, cacheDataVolume(facts.generation));
    }
  }

  /**
   * Removes what `selectEvictions` picks, ready mark first (no reader picks it after), then
   * its data unless a reader pins it (left for a later pass), and data volumes of saves that
   * never published. Returns how many generations were unpublished.
   */
  async evict(keep?: string): Promise<number> {
    const marks = await this.readyMarks({});
    const entries: CacheEntry[] = marks.map((m) => ({ ...m, usedMs: generationMs(m.generation) }));
    const evicted = selectEvictions(entries, this.maxBytes, keep);
    for (const e of evicted) {
      await removeVolume(this.docker, cacheReadyVolume(e.generation));
      await removeVolume(this.docker, cacheDataVolume(e.generation));
    }
    const published = new Set(marks.map((m) => m.generation));
    const isData = { [WHARF_LABELS.cacheRole]: "data" };
    const data = await this.docker.listVolumes({ filters: labelFilter(isData) });
    for (const v of data.Volumes ?? []) {
      const generation = v.Labels?.[WHARF_LABELS.cacheGeneration] ?? "";
      if (!hasLabels(v.Labels, isData) || !(generationMs(generation) > 0)) continue;
      const orphan = !published.has(generation) && Date.now() - generationMs(generation) > ORPHAN_AGE_MS;
      if (orphan || evicted.some((e) => e.generation === generation)) await removeVolume(this.docker, v.Name);
    }
    if (evicted.length > 0) this.log.info({ evicted: evicted.length }, "step caches evicted");
    return evicted.length;
  }

  /** Ready marks carrying `labels`, checked here as well as by the engine (see labelFilter). */
  private async readyMarks(labels: Record<string, string>) {
    const wanted = { ...labels, [WHARF_LABELS.cacheRole]: "ready" };
    const list = await this.docker.listVolumes({ filters: labelFilter(wanted) });
    return (list.Volumes ?? []).flatMap((v) => (hasLabels(v.Labels, wanted) && readyMark(v.Labels)) || []);
  }

  /**
   * A helper mounting the generation's data volume, or null when eviction removed it first:
   * the engine then created an empty, unlabelled volume of that name for the mount, which is
   * told apart by its labels and removed.
   */
  private async pin(build: BuildSpec, generation: string): Promise<Docker.Container | null> {
    const helper = await this.docker.createContainer(cacheHelperOptions(build, this.helperImage, generation));
    const volume = await this.docker
      .getVolume(cacheDataVolume(generation))
      .inspect()
      .catch(() => null);
    if (volume?.Labels?.[WHARF_LABELS.cacheRole] === "data") return helper;
    await helper.remove({ force: true }).catch(() => {});
    if (volume) await removeVolume(this.docker, cacheDataVolume(generation));
    return null;
  }

  /**
   * Appends the workspace path `rel` to `out` under its own relative name (the engine names
   * entries by the path's last element), parents first; returns the bytes of its files, null
   * when the step left no such path.
   */
  private async appendWorkspacePath(build: BuildSpec, rel: string, out: Pack): Promise<number | null> {
    let source: NodeJS.ReadableStream;
    try {
      source = await this.docker
        .getContainer(helperContainerName(build.buildRef))
        .getArchive({ path: path.posix.join(this.workspacePath, rel) });
    } catch (err) {
      if ((err as { statusCode?: number }).statusCode === 404) return null;
      throw err;
    }
    const parents = path.posix
      .dirname(rel)
      .split("/")
      .filter((p) => p !== ".");
    for (let i = 1; i <= parents.length; i++)
      out.entry({ name: `${parents.slice(0, i).join("/")}/`, type: "directory", mode: 0o755 });
    const base = path.posix.basename(rel);
    const prefix = path.posix.dirname(rel) === "." ? "" : `${path.posix.dirname(rel)}/`;
    let bytes = 0;
    const tar = extract();
    tar.on("entry", (header, stream, next) => {
      if (header.name !== base && !header.name.startsWith(`${base}/`)) {
        stream.on("end", next).resume();
        return;
      }
      header.name = prefix + header.name;
      // A hard link names its target by its path in the archive, which moved with it.
      if (header.type === "link" && header.linkname) header.linkname = prefix + header.linkname;
      if (header.type === "file") bytes += header.size ?? 0;
      stream.pipe(out.entry(header, (err) => next(err ?? undefined)));
    });
    await new Promise<void>((resolve, reject) => {
      tar.on("finish", resolve).on("error", reject);
      source.on("error", reject);
      source.pipe(tar);
    });
    return bytes;
  }
}

/**
 * Removes a volume; gone already (another save evicted it first) or still pinned by a reader
 * (409) is no failure. Podman 4.3 answers 500 "no such volume" to a removal that lost that race.
 */
async function removeVolume(docker: Docker, name: string): Promise<void> {
  await docker
    .getVolume(name)
    .remove()
    .catch((err: { statusCode?: number; message?: string }) => {
      const gone = err.statusCode === 404 || /no such volume/i.test(err.message ?? "");
      if (!gone && err.statusCode !== 409) throw err;
    });
}
