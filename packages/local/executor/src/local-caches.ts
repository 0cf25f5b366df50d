import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import fs from "node:fs/promises";
import path from "node:path";
import { promisify } from "node:util";
import {
  type BuildSpec,
  type CacheEntry,
  type CacheRestore,
  type CacheSave,
  type CacheScope,
  cacheKey,
  cachePaths,
  newGeneration,
  type PlanStep,
  restoreNewest,
  type StepCaches,
  selectEvictions,
} from "@wharf/executor";

type ScopedBuild = BuildSpec & { cache: CacheScope };

const META = "meta.json";
const run = promisify(execFile);

/**
 * Copies a file or tree to `to` (which must not exist), keeping modes, times and symlinks as
 * links. The host's `cp -a` rather than `fs.cp`: on 8000 files of 1–8 KiB fs.cp took 24.4 s
 * and cp -a 3.2 s on the bench machine; GNU cp also clones blocks where the file system can.
 */
async function copyTree(from: string, to: string): Promise<void> {
  await run("cp", ["-a", from, to]);
}

/**
 * Step caches in a directory of the worker's host (see `StepCaches` for the rules):
 * `<root>/<key>/<generation>/{meta.json,files/...}`. A save copies the paths into
 * `<root>/.staging/<generation>` and publishes it with one rename into its key's directory, so
 * a generation is visible only when complete. A restore copies the newest generation into a
 * staging directory inside the workspace and renames each path into place: the step sees the
 * whole cache or none of it, even if eviction removed the generation during the copy. The
 * meta file's mtime is the generation's last use (LRU).
 */
export class LocalCaches implements StepCaches {
  constructor(
    private readonly root: string,
    private readonly maxBytes: number,
    private readonly workspaceOf: (build: BuildSpec) => string,
  ) {}

  async restore(build: ScopedBuild, step: PlanStep): Promise<CacheRestore> {
    const paths = cachePaths(step);
    return restoreNewest(
      build.cache,
      paths,
      async (key) => (await this.generations(key)).map((generation) => ({ generation })),
      (key, { generation }) => this.restoreGeneration(path.join(this.root, key, generation), paths, build),
    );
  }

  async save(build: ScopedBuild, step: PlanStep): Promise<CacheSave> {
    const paths = cachePaths(step);
    const key = cacheKey(build.cache.project, build.cache.branch, paths);
    const generation = newGeneration();
    const staging = path.join(this.root, ".staging", generation);
    const workspace = this.workspaceOf(build);
    let bytes = 0;
    let found = 0;
    try {
      for (const rel of paths) {
        const from = path.join(workspace, rel);
        if (!(await fs.lstat(from).catch(() => null))) continue;
        found++;
        await fs.mkdir(path.dirname(path.join(staging, "files", rel)), { recursive: true });
        await copyTree(from, path.join(staging, "files", rel));
        bytes += await treeBytes(path.join(staging, "files", rel));
      }
      // The step left none of the paths: keep the cache there is rather than publish an empty one.
      if (found === 0) return { bytes: 0, evicted: 0 };
      await fs.mkdir(staging, { recursive: true });
      await fs.writeFile(path.join(staging, META), JSON.stringify({ ...build.cache, paths, bytes }));
      await fs.mkdir(path.join(this.root, key), { recursive: true });
      await fs.rename(staging, path.join(this.root, key, generation));
    } finally {
      await fs.rm(staging, { recursive: true, force: true });
    }
    return { bytes, evicted: await this.evict(key) };
  }

  /** Removes what `selectEvictions` picks; a generation is first renamed away, so no reader picks it after. */
  async evict(keep?: string): Promise<number> {
    const entries: CacheEntry[] = [];
    for (const key of await listDir(this.root)) {
      if (key.startsWith(".")) continue;
      for (const generation of await this.generations(key)) {
        const meta = path.join(this.root, key, generation, META);
        const read = await Promise.all([fs.stat(meta), fs.readFile(meta, "utf8")]).catch(() => null);
        if (!read) continue; // evicted by another save meanwhile
        const [stat, text] = read;
        const bytes = Number((JSON.parse(text) as { bytes?: number }).bytes ?? 0);
        entries.push({ key, generation, bytes, usedMs: stat.mtimeMs });
      }
    }
    const evicted = selectEvictions(entries, this.maxBytes, keep);
    for (const e of evicted) {
      const trash = path.join(this.root, ".trash", `${e.generation}-${randomBytes(4).toString("hex")}`);
      await fs.mkdir(path.dirname(trash), { recursive: true });
      const moved = await fs.rename(path.join(this.root, e.key, e.generation), trash).then(
        () => true,
        () => false,
      );
      if (moved) await fs.rm(trash, { recursive: true, force: true });
    }
    return evicted.length;
  }

  /** Published generations of `key`, oldest first. */
  private async generations(key: string): Promise<string[]> {
    return (await listDir(path.join(this.root, key))).sort();
  }

  /** Copies one generation into the workspace; null when it vanished (evicted) mid-way. */
  private async restoreGeneration(dir: string, paths: string[], build: BuildSpec): Promise<number | null> {
    const workspace = this.workspaceOf(build);
    const staging = path.join(workspace, `.wharf-cache-restore-${randomBytes(6).toString("hex")}`);
    try {
      const meta = JSON.parse(await fs.readFile(path.join(dir, META), "utf8")) as { bytes: number };
      const now = new Date();
      await fs.utimes(path.join(dir, META), now, now);
      const present: string[] = [];
      for (const rel of paths) {
        const from = path.join(dir, "files", rel);
        if (!(await fs.lstat(from).catch(() => null))) continue;
        await fs.mkdir(path.dirname(path.join(staging, rel)), { recursive: true });
        await copyTree(from, path.join(staging, rel));
        present.push(rel);
      }
      // Complete copy made: only now does the workspace change, one rename per path.
      for (const rel of present) {
        const to = path.join(workspace, rel);
        await fs.rm(to, { recursive: true, force: true });
        await fs.mkdir(path.dirname(to), { recursive: true });
        await fs.rename(path.join(staging, rel), to);
      }
      return meta.bytes;
    } catch (err) {
      // Evicted mid-way: the meta file is gone (ENOENT), or cp found files gone (exit 1) — a
      // generation is never changed in place, so a failed copy of one that still exists is a fault.
      const gone = !(await fs.stat(path.join(dir, META)).catch(() => null));
      if (gone) return null;
      throw err;
    } finally {
      await fs.rm(staging, { recursive: true, force: true });
    }
  }
}

async function listDir(dir: string): Promise<string[]> {
  return fs.readdir(dir).catch((err: NodeJS.ErrnoException) => {
    if (err.code === "ENOENT") return [];
    throw err;
  });
}

/** Bytes of the regular files under `p` (a file or a directory); links count as nothing. */
async function treeBytes(p: string): Promise<number> {
  const stat = await fs.lstat(p);
  if (stat.isFile()) return stat.size;
  if (!stat.isDirectory()) return 0;
  let total = 0;
  for (const entry of await fs.readdir(p)) total += await treeBytes(path.join(p, entry));
  return total;
}
