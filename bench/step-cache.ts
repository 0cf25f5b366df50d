/**
 * Step caches, cold vs warm, and the overhead of a build on one host. Writes its section of
 * BENCHMARKS.md.
 *
 *   pnpm exec tsx bench/step-cache.ts [rounds] [files]   (default 3 rounds, 8000 files; the
 *                                                         docker rows need Docker and busybox)
 *
 * Two dependency steps. "tree": installs a generated package tree the way a package manager
 * unpacks its downloads: `files` files of 1–8 KiB (random, so they compress like code does not
 * but like a mix of code and binaries) in 400 directories, shipped in the source as one gzipped
 * tarball (a stand-in for the registry: no network), unpacked, then checksummed (the integrity
 * check); the cache is the installed tree. "npm ci" (local executor, needs the npm registry):
 * a fixture project of six packages installed with `npm ci --cache .npm`, the cache being npm's
 * download cache `.npm`, as CI set-ups usually cache it. Cold: no cache; warm: the cache restored.
 * Both time restore + step + save, all of what the cache adds or saves; rounds interleave cold
 * and warm so machine load falls on both alike.
 */
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import type { BuildSpec, CacheScope, Executor, PlanStep, StepCaches } from "@wharf/executor";
import { DockerExecutor } from "@wharf/executor-docker";
import { LocalExecutor } from "@wharf/executor-local";
import { BUSYBOX_IMAGE, dockerAvailable, ensureBusyboxImage } from "@wharf/testkit";
import { writeBenchmarkSection } from "./benchmarks-file.js";

const run = promisify(execFile);
const ROUNDS = Number(process.argv[2] ?? 3);
const FILES = Number(process.argv[3] ?? 8000);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? Number.NaN;
interface DependencyStep {
  cmds: string[];
  cache: string[];
}
const TREE: DependencyStep = {
  cmds: [
    "if [ ! -d deps ]; then mkdir deps && tar -xzf packages.tgz -C deps; fi",
    "find deps -type f | sort | xargs md5sum | md5sum",
  ],
  cache: ["deps"],
};
const NPM: DependencyStep = {
  cmds: ["npm ci --cache .npm --prefer-offline --ignore-scripts --no-audit --no-fund --loglevel=error"],
  cache: [".npm"],
};
const NPM_DEPENDENCIES = {
  typescript: "5.6.3",
  lodash: "4.17.21",
  yaml: "2.6.0",
  zod: "3.23.8",
  "date-fns": "4.1.0",
  rxjs: "7.8.1",
};

type CachedExecutor = Executor & { caches: StepCaches };

/** A source directory holding `packages.tgz`, a generated tree of FILES files. */
async function makeSource(dir: string): Promise<{ bytes: number }> {
  const tree = path.join(dir, "tree");
  let bytes = 0;
  for (let i = 0; i < FILES; i++) {
    const sub = path.join(tree, `pkg-${i % 400}`, "lib");
    if (i < 400) await fs.mkdir(sub, { recursive: true });
    const size = 1024 + ((i * 7919) % 7168);
    await fs.writeFile(path.join(sub, `f${i}.js`), randomBytes(size));
    bytes += size;
  }
  await fs.mkdir(path.join(dir, "src"));
  await run("tar", ["-czf", path.join(dir, "src", "packages.tgz"), "-C", tree, "."]);
  await fs.rm(tree, { recursive: true });
  return { bytes };
}

async function timed<T>(f: () => Promise<T>): Promise<[T, number]> {
  const t = performance.now();
  const r = await f();
  return [r, performance.now() - t];
}

/** One build of the dependency step: setup, restore, step, save, destroy; ms of each part. */
async function oneBuild(
  executor: CachedExecutor,
  sourceDir: string,
  scope: CacheScope,
  ref: string,
  dep: DependencyStep,
) {
  const build = { buildRef: ref, sourceDir, labels: {}, env: {}, cache: scope } as BuildSpec & {
    cache: CacheScope;
  };
  const step: PlanStep = {
    id: 1,
    name: "deps",
    stage: "build",
    retries: 0,
    artifacts: [],
    cache: dep.cache,
    type: "container",
    spec: { image: BUSYBOX_IMAGE, cmds: dep.cmds, shell: "/bin/sh", os: "linux" },
  };
  const [, setupMs] = await timed(() => executor.setupBuild(build));
  try {
    const [restored, restoreMs] = await timed(() => executor.caches.restore(build, step));
    const [code, stepMs] = await timed(async () => {
      const proc = await executor.startStep(build, step, {});
      proc.stdout.resume();
      proc.stderr.resume();
      const c = await proc.wait();
      await proc.destroy();
      return c;
    });
    if (code !== 0) throw new Error(`the dependency step exited ${code}`);
    const [saved, saveMs] = await timed(() => executor.caches.save(build, step));
    return { hit: restored.hit, bytes: saved.bytes, setupMs, restoreMs, stepMs, saveMs };
  } finally {
    await executor.destroyBuild(build);
  }
}

async function measure(name: string, executor: CachedExecutor, sourceDir: string, dep: DependencyStep) {
  const cold: number[] = [];
  const warm: number[] = [];
  const parts = {
    restore: [] as number[],
    step: [] as number[],
    save: [] as number[],
    coldStep: [] as number[],
  };
  let bytes = 0;
  for (let i = 0; i < ROUNDS + 1; i++) {
    const project = `bench-${process.pid}-${i}`;
    const scope = { project, branch: "main" };
    const c = await oneBuild(executor, sourceDir, scope, `bench-${process.pid}-${i}-cold`, dep);
    const w = await oneBuild(executor, sourceDir, scope, `bench-${process.pid}-${i}-warm`, dep);
    if (c.hit || !w.hit) throw new Error("cold build hit a cache or warm build missed");
    if (i === 0) continue; // warm-up
    bytes = w.bytes;
    cold.push(c.restoreMs + c.stepMs + c.saveMs);
    warm.push(w.restoreMs + w.stepMs + w.saveMs);
    parts.coldStep.push(c.stepMs);
    parts.restore.push(w.restoreMs);
    parts.step.push(w.stepMs);
    parts.save.push(w.saveMs);
  }
  return {
    name,
    bytes,
    cold: median(cold),
    warm: median(warm),
    coldStep: median(parts.coldStep),
    restore: median(parts.restore),
    step: median(parts.step),
    save: median(parts.save),
  };
}

/** Median wall ms of a build of one `true` step (setup → step → destroy), `parallel` builds at once. */
async function overhead(executor: Executor, sourceDir: string, parallel: number): Promise<number> {
  const samples: number[] = [];
  for (let round = 0; round < ROUNDS + 1; round++) {
    const times = await Promise.all(
      Array.from({ length: parallel }, async (_, k) => {
        const build = {
          buildRef: `ovh-${process.pid}-${round}-${k}-${parallel}`,
          sourceDir,
          labels: {},
          env: {},
        };
        const step: PlanStep = {
          id: 1,
          name: "noop",
          stage: "s",
          retries: 0,
          artifacts: [],
          type: "container",
          spec: { image: BUSYBOX_IMAGE, cmds: ["true"], shell: "/bin/sh", os: "linux" },
        };
        const t = performance.now();
        try {
          await executor.setupBuild(build);
          const proc = await executor.startStep(build, step, {});
          proc.stdout.resume();
          proc.stderr.resume();
          await proc.wait();
          await proc.destroy();
        } finally {
          await executor.destroyBuild(build);
        }
        return performance.now() - t;
      }),
    );
    if (round > 0) samples.push(...times);
  }
  return median(samples);
}

const root = await fs.mkdtemp(path.join(os.tmpdir(), "wharf-bench-cache-"));
const cacheVolumes = async () =>
  (await run("docker", ["volume", "ls", "-q", "--filter", "label=wharf.iver.com/project-id"])).stdout
    .split("\n")
    .filter((v) => v.startsWith("wharf-cache-"));
try {
  const { bytes } = await makeSource(root);
  const sourceDir = path.join(root, "src");
  const tgz = (await fs.stat(path.join(sourceDir, "packages.tgz"))).size;
  const local = new LocalExecutor({
    workspaceRoot: path.join(root, "ws"),
    cacheDir: path.join(root, "caches"),
  });
  const rows = [await measure("tree, local", local, sourceDir, TREE)];
  const npmDir = path.join(root, "npm");
  await fs.mkdir(npmDir);
  const pkg = { name: "fixture", version: "1.0.0", private: true, dependencies: NPM_DEPENDENCIES };
  await fs.writeFile(path.join(npmDir, "package.json"), JSON.stringify(pkg));
  await run(
    "npm",
    ["install", "--package-lock-only", "--ignore-scripts", "--cache", path.join(root, "lock-cache")],
    {
      cwd: npmDir,
    },
  );
  rows.push(await measure("npm ci, local", local, npmDir, NPM));
  const hasDocker = await dockerAvailable();
  const overheads: [string, number, number][] = [];
  if (hasDocker) {
    await ensureBusyboxImage();
    const docker = new DockerExecutor({ networkMode: "none" });
    const before = new Set(await cacheVolumes());
    try {
      rows.push(await measure("tree, docker", docker, sourceDir, TREE));
    } finally {
      for (const v of await cacheVolumes())
        if (!before.has(v)) await run("docker", ["volume", "rm", "-f", v]);
    }
    const empty = path.join(root, "empty");
    await fs.mkdir(empty);
    const base = await overhead(docker, empty, 1);
    for (const n of [1, 2, 4, 8]) {
      const ms = n === 1 ? base : await overhead(docker, empty, n);
      overheads.push([`docker, ${n} at once`, ms, ms / base]);
    }
  }
  const load = os
    .loadavg()
    .map((l) => l.toFixed(1))
    .join(" ");
  const mib = (n: number) => (n / 1024 ** 2).toFixed(1);
  const s = (ms: number) => (ms / 1000).toFixed(2);
  writeBenchmarkSection(
    [
      "## step caches: cold vs warm",
      "",
      `\`pnpm exec tsx bench/step-cache.ts ${ROUNDS} ${FILES}\` — two dependency steps. "tree": installs ${FILES} files`,
      `(${mib(bytes)} MiB of random bytes in 400 packages, from a ${mib(tgz)} MiB gzipped tarball in the source, then`,
      "checksums them all), `cache: [deps]`: cold, no cache, the step installs; warm, the tree is restored",
      'and the step only checksums it. "npm ci": a fixture of six packages (typescript, lodash, yaml, zod,',
      `date-fns, rxjs: ${rows.find((r) => r.name.startsWith("npm"))?.bytes ? mib(rows.find((r) => r.name.startsWith("npm"))?.bytes ?? 0) : "?"} MiB of npm cache) installed by \`npm ci --cache .npm --prefer-offline\` from`,
      "registry.npmjs.org, `cache: [.npm]`: cold, the packages are downloaded; warm, npm's cache is restored.",
      "Every successful build saves (a warm build too). Both columns time restore + step + save.",
      `Median of ${ROUNDS} rounds after a warm-up, cold and warm interleaved; seconds.`,
      "",
      "| step, executor | cold: step + save | warm: restore + step + save | warm / cold | cold step alone | warm restore | warm step | save |",
      "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
      ...rows.map(
        (r) =>
          `| ${r.name} | ${s(r.cold)} | ${s(r.warm)} | ${(r.warm / r.cold).toFixed(2)}× | ${s(r.coldStep)} | ${s(r.restore)} | ${s(r.step)} | ${s(r.save)} |`,
      ),
      "",
      ...(overheads.length
        ? [
            "Overhead of a build on one host (the seed's question): a build of one `true` step on the docker",
            "executor — workspace volume and helper, step container, removal of all of it — with N such builds",
            "started at once; median wall time per build and its ratio to one build alone.",
            "",
            "| builds at once | ms per build | vs one |",
            "| --- | ---: | ---: |",
            ...overheads.map(
              ([label, ms, ratio]) => `| ${label} | ${ms.toFixed(0)} | ${ratio.toFixed(2)}× |`,
            ),
            "",
          ]
        : []),
      `Measured ${new Date().toISOString().slice(0, 10)} on Node ${process.version}, ${os.cpus().length} × ${os.cpus()[0]?.model ?? "cpu"}, load average ${load} (a machine shared with other work: ratios within the run are the figures to read).`,
      "",
    ].join("\n"),
  );
  console.log(rows, overheads);
} finally {
  await fs.rm(root, { recursive: true, force: true });
}
