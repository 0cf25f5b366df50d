import { randomBytes } from "node:crypto";
import { once } from "node:events";
import { createReadStream, createWriteStream } from "node:fs";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { KubeConfig } from "@kubernetes/client-node";
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
  restoreKeys,
  restoreNewest,
  type StepCaches,
  selectEvictions,
} from "@wharf/executor";
import {
  CACHE_GENERATION_GONE,
  CACHE_STORE_CONTAINER,
  type CacheStoreInput,
  evictCacheCommand,
  listCacheCommand,
  packWorkspacePathsCommand,
  publishCacheCommand,
  readCacheCommand,
  unpackIntoWorkspaceCommand,
  WORKSPACE_CONTAINER,
} from "@wharf/kube-manifests";
import { extract } from "tar-stream";
import { ensureCacheStorePod } from "./cache-store-pod.js";
import type { KubeClient } from "./kube-api.js";
import { type ExecTarget, execInPod, PodExecError } from "./pod-exec.js";

type ScopedBuild = BuildSpec & { cache: CacheScope };

/** A staging directory this old belongs to a save that died: removed by the next eviction. */
const ORPHAN_AGE_MS = 60 * 60_000;

export interface ClaimCachesOptions {
  kubeConfig: KubeConfig;
  kube: KubeClient;
  namespace: string;
  store: CacheStoreInput;
  maxBytes: number;
  startTimeoutMs: number;
  pollMs: number;
  /** The running workspace pod of a build (set up by the executor). */
  workspacePodOf(build: BuildSpec): string;
}

interface Generation {
  key: string;
  generation: string;
  usedMs: number;
  bytes: number;
}

/**
 * Step caches in one claim per namespace, held by a long-lived pod (kube-manifests'
 * step-cache-store.ts has the layout and commands; `StepCaches` the rules). Files move as tar
 * through the worker, over pods/exec, between the store's pod and the build's workspace pod,
 * like the repository and artifacts do; each archive is spooled to a temporary file first, as
 * an exec's input must end by itself (`head -c <size>`) on API servers before exec v5.
 */
export class ClaimCaches implements StepCaches {
  constructor(private readonly o: ClaimCachesOptions) {}

  async restore(build: ScopedBuild, step: PlanStep): Promise<CacheRestore> {
    const paths = cachePaths(step);
    const store = await this.storePod();
    // Both keys' generations in one listing (one exec into the store pod, not one a key).
    const listed = await this.list(
      store,
      restoreKeys(build.cache, paths).map((k) => k.key),
    );
    return restoreNewest(
      build.cache,
      paths,
      async (key) => listed.generations.filter((g) => g.key === key),
      (key, g) =>
        this.withSpool(async (file) => {
          try {
            await this.execToFile(store, readCacheCommand(key, g.generation, Date.now()), file);
          } catch (err) {
            if (err instanceof PodExecError && err.exitCode === CACHE_GENERATION_GONE) return null;
            throw err;
          }
          const { size } = await fs.stat(file);
          await this.execFromFile(
            this.workspaceTarget(build),
            unpackIntoWorkspaceCommand(paths, size, randomBytes(6).toString("hex")),
            file,
          );
          return g.bytes;
        }),
    );
  }

  async save(build: ScopedBuild, step: PlanStep): Promise<CacheSave> {
    const paths = cachePaths(step);
    const key = cacheKey(build.cache.project, build.cache.branch, paths);
    const generation = newGeneration();
    const saved = await this.withSpool(async (file) => {
      await this.execToFile(this.workspaceTarget(build), packWorkspacePathsCommand(paths), file);
      const { size } = await fs.stat(file);
      // The step left none of the paths: keep the cache there is rather than publish an empty one.
      if (size === 0) return null;
      const bytes = await archivedFileBytes(file);
      const store = await this.storePod();
      const meta = { ...build.cache, paths, bytes };
      await this.execFromFile(store, publishCacheCommand(key, generation, size, meta, Date.now()), file);
      return { bytes, store };
    });
    if (!saved) return { bytes: 0, evicted: 0 };
    return { bytes: saved.bytes, evicted: await this.evict(saved.store, key) };
  }

  /** Removes what `selectEvictions` picks, and staging directories of saves that died. */
  async evict(store: ExecTarget, keep?: string): Promise<number> {
    const { generations, staging } = await this.list(store);
    const entries: CacheEntry[] = generations;
    const evicted = selectEvictions(entries, this.o.maxBytes, keep);
    const dead = staging.filter((g) => Date.now() - generationMs(g) > ORPHAN_AGE_MS);
    if (evicted.length > 0 || dead.length > 0)
      await execInPod(
        this.o.kubeConfig,
        this.o.kube.calls,
        store,
        evictCacheCommand(
          evicted.map((e) => `${e.key}/${e.generation}`),
          dead,
        ),
        {},
      );
    return evicted.length;
  }

  private async storePod(): Promise<ExecTarget> {
    const pod = await ensureCacheStorePod(this.o.kube, {
      namespace: this.o.namespace,
      store: this.o.store,
      timeoutMs: this.o.startTimeoutMs,
      pollMs: this.o.pollMs,
    });
    return { namespace: this.o.namespace, pod, container: CACHE_STORE_CONTAINER };
  }

  private workspaceTarget(build: BuildSpec): ExecTarget {
    return { namespace: this.o.namespace, pod: this.o.workspacePodOf(build), container: WORKSPACE_CONTAINER };
  }

  private async list(store: ExecTarget, keys?: string[]) {
    let text = "";
    const out = new Writable({
      write(chunk, _enc, cb) {
        text += chunk.toString();
        cb();
      },
    });
    const finished = once(out, "finish");
    await execInPod(this.o.kubeConfig, this.o.kube.calls, store, listCacheCommand(keys), { stdout: out });
    await finished;
    return parseListing(text);
  }

  private async execToFile(target: ExecTarget, command: string[], file: string): Promise<void> {
    const out = createWriteStream(file);
    const finished = once(out, "finish");
    try {
      await execInPod(this.o.kubeConfig, this.o.kube.calls, target, command, { stdout: out });
    } catch (err) {
      out.destroy();
      throw err;
    }
    await finished;
  }

  private async execFromFile(target: ExecTarget, command: string[], file: string): Promise<void> {
    await execInPod(this.o.kubeConfig, this.o.kube.calls, target, command, { stdin: createReadStream(file) });
  }

  private async withSpool<T>(use: (file: string) => Promise<T>): Promise<T> {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), "wharf-k8s-cache-"));
    try {
      return await use(path.join(dir, "cache.tar"));
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  }
}

/** The store's listing (listCacheCommand): published generations and staging directories. */
export function parseListing(text: string): { generations: Generation[]; staging: string[] } {
  const generations: Generation[] = [];
  const staging: string[] = [];
  for (const line of text.split("\n")) {
    const m = /^staging (\S+)$/.exec(line);
    if (m) {
      staging.push(m[1]!);
      continue;
    }
    const g = /^([0-9a-f]+)\/(\S+) (\d+) (\{.*\})$/.exec(line);
    if (!g) continue;
    let bytes = 0;
    try {
      bytes = Number((JSON.parse(g[4]!) as { bytes?: number }).bytes ?? 0) || 0;
    } catch {
      continue; // a meta file being written: not published yet
    }
    const used = Number(g[3]);
    generations.push({ key: g[1]!, generation: g[2]!, bytes, usedMs: used || generationMs(g[2]!) });
  }
  return { generations, staging };
}

/** Bytes of the regular files in a tar file (links and directories count as nothing). */
async function archivedFileBytes(file: string): Promise<number> {
  let bytes = 0;
  const tar = extract();
  tar.on("entry", (header, stream, next) => {
    if (header.type === "file") bytes += header.size ?? 0;
    stream.on("end", next).resume();
  });
  await pipeline(createReadStream(file), tar);
  return bytes;
}
