/**
 * Disk growth per 100 builds on one Docker host, without and with the janitor (issue 20's
 * question). Writes its section of BENCHMARKS.md.
 *
 *   pnpm exec tsx bench/janitor-disk.ts [builds] [janitor every N builds] [max minutes]
 *   (default 100 builds, the janitor after every 10th, 20 minutes per pass at most)
 *
 * A build is what a CI build of a small service does on the docker executor: a `docker` step
 * builds the project's image from a Dockerfile that copies a source file changed by every
 * commit (64 KiB of random bytes, base64) and runs a step over it, tagged as the project's `latest`. So
 * each build leaves the previous `latest` untagged (dangling), with its layers and the
 * classic builder's intermediate images. Two passes, each its own project (image name) and run
 * label: one without the janitor, one with `wharf janitor --images` every N builds (as the
 * provisioner's schedule would run it). Growth is the bytes of the pass's own images (`system
 * df`: size less what is shared with other images, e.g. the base) and the engine's total in
 * `system df`, which other work on a shared machine changes too. Only objects carrying this
 * run's label are ever removed, by the janitor (its label filter) or at the end.
 */
import { randomBytes } from "node:crypto";
import os from "node:os";
import type { BuildSpec, PlanStep } from "@wharf/executor";
import { makeBuild, removeSource, runStep } from "@wharf/executor/testing";
import { DockerExecutor } from "@wharf/executor-docker";
import { defaultEngine, runJanitor } from "@wharf/executor-docker/janitor";
import { JANITOR_DEFAULTS } from "@wharf/executor-docker/janitor-options";
import { BUSYBOX_IMAGE, dockerAvailable, ensureBusyboxImage } from "@wharf/testkit";
import { writeBenchmarkSection } from "./benchmarks-file.js";

const BUILDS = Number(process.argv[2] ?? 100);
const JANITOR_EVERY = Number(process.argv[3] ?? 10);
const MAX_MS = Number(process.argv[4] ?? 20) * 60_000;
const LABEL = "wharf-bench-run";
const docker = defaultEngine();

interface Pass {
  name: string;
  builds: number;
  seconds: number;
  ownBefore: number;
  ownAfter: number;
  engineBefore: number;
  engineAfter: number;
  images: number;
  reclaimed: number;
  janitorRuns: number;
}

const imageStep = (repo: string): PlanStep => ({
  id: 1,
  name: "image",
  stage: "build",
  retries: 0,
  artifacts: [],
  type: "docker",
  spec: {
    file: "Dockerfile",
    context: ".",
    tags: ["latest"],
    destination: repo,
    appendCert: false,
    push: false,
    args: [],
    secretArgs: [],
    noCache: false,
    pull: false,
  },
});

/** Bytes of the images carrying `run` (not shared with others), how many, and the engine's total. */
async function usage(run: string): Promise<{ own: number; images: number; engine: number }> {
  const df = (await docker.df()) as {
    LayersSize?: number;
    Images?: { Size: number; SharedSize: number; Labels?: Record<string, string> | null }[];
    Containers?: { SizeRw?: number }[];
    Volumes?: { UsageData?: { Size?: number } | null }[];
    BuildCache?: { Size?: number }[] | null;
  };
  const mine = (df.Images ?? []).filter((i) => i.Labels?.[LABEL] === run);
  const own = mine.reduce((sum, i) => sum + Math.max(0, i.Size - Math.max(0, i.SharedSize)), 0);
  const engine =
    (df.LayersSize ?? 0) +
    (df.Containers ?? []).reduce((s, c) => s + (c.SizeRw ?? 0), 0) +
    (df.Volumes ?? []).reduce((s, v) => s + Math.max(0, v.UsageData?.Size ?? 0), 0) +
    (df.BuildCache ?? []).reduce((s, c) => s + Math.max(0, c.Size ?? 0), 0);
  return { own, images: mine.length, engine };
}

async function pass(name: string, withJanitor: boolean): Promise<Pass> {
  const run = `${name}-${process.pid}-${randomBytes(3).toString("hex")}`;
  const repo = `wharf-bench/${run}`;
  const executor = new DockerExecutor({ networkMode: "none" });
  const before = await usage(run);
  const started = performance.now();
  let builds = 0;
  let reclaimed = 0;
  let janitorRuns = 0;
  for (; builds < BUILDS && performance.now() - started < MAX_MS; builds++) {
    const build: BuildSpec = await makeBuild(
      {
        Dockerfile: `FROM ${BUSYBOX_IMAGE}\nLABEL ${LABEL}=${run}\nCOPY app.bin /app.bin\nRUN md5sum /app.bin > /app.md5\n`,
        "app.bin": randomBytes(64 * 1024).toString("base64"),
      },
      { labels: { [LABEL]: run } },
    );
    try {
      await executor.setupBuild(build);
      const result = await runStep(executor, build, imageStep(repo));
      if (result.code !== 0) throw new Error(`build ${builds} failed: ${result.stdout}${result.stderr}`);
    } finally {
      await executor.destroyBuild(build);
      await removeSource(build);
    }
    if (withJanitor && (builds + 1) % JANITOR_EVERY === 0) {
      const report = await runJanitor(docker, {
        dryRun: false,
        minAgeMs: 0,
        images: true,
        labels: { [LABEL]: run },
        lockStaleMs: JANITOR_DEFAULTS.lockStaleMs,
        lockName: `wharf-bench-janitor-${run}`,
      });
      reclaimed += report.bytes;
      janitorRuns++;
    }
  }
  const seconds = (performance.now() - started) / 1000;
  const after = await usage(run);
  await removeImages(run, repo);
  return {
    name,
    builds,
    seconds,
    ownBefore: before.own,
    ownAfter: after.own,
    engineBefore: before.engine,
    engineAfter: after.engine,
    images: after.images,
    reclaimed,
    janitorRuns,
  };
}

/** Removes the pass's images: its tag, then every image (intermediate ones too) carrying its label. */
async function removeImages(run: string, repo: string): Promise<void> {
  await docker
    .getImage(`${repo}:latest`)
    .remove()
    .catch(() => {});
  const filters = JSON.stringify({ label: [`${LABEL}=${run}`] });
  const images = await docker.listImages({ all: true, filters });
  // Children before parents: newest first.
  for (const i of images.sort((a, b) => b.Created - a.Created))
    await docker
      .getImage(i.Id)
      .remove({ force: true })
      .catch(() => {});
}

const mib = (n: number) => (n / 1024 ** 2).toFixed(1);
const signedMib = (n: number) => `${n >= 0 ? "+" : "−"}${mib(Math.abs(n))}`;

async function main(): Promise<void> {
  if (!(await dockerAvailable())) throw new Error("this bench needs Docker");
  await ensureBusyboxImage();
  const loadBefore = os.loadavg();
  const passes = [await pass("without-janitor", false), await pass("with-janitor", true)];
  const loadAfter = os.loadavg();
  const rows = passes.map((p) => {
    const per100 = (bytes: number) => (p.builds > 0 ? (bytes * 100) / p.builds : Number.NaN);
    return `| ${p.name.replace("-", " ").replace("-", " ")} | ${p.builds} | ${p.seconds.toFixed(0)} | ${signedMib(per100(p.ownAfter - p.ownBefore))} | ${p.images} | ${signedMib(per100(p.engineAfter - p.engineBefore))} | ${p.janitorRuns ? `${p.janitorRuns} runs, ${mib(p.reclaimed)} MiB` : "—"} |`;
  });
  const version = (await docker.version()) as { Version?: string; Components?: { Name: string }[] };
  const engine = `${version.Components?.[0]?.Name ?? "Docker"} ${version.Version ?? ""}`.trim();
  writeBenchmarkSection(`## disk growth per 100 builds, without and with the janitor

\`pnpm exec tsx bench/janitor-disk.ts ${BUILDS} ${JANITOR_EVERY}\` — ${BUILDS} builds of a small service on
the docker executor (${engine}), one after another: a \`docker\` step builds \`FROM busybox\`, \`COPY\` of a
source file every commit changes (64 KiB of random bytes, base64: 87 KB), \`RUN md5sum\` over it, tagged as the project's
\`latest\` (classic builder, no push), so each build leaves the previous image untagged. Pass two runs
\`wharf janitor --images\` (restricted to the pass's label) after every ${JANITOR_EVERY}th build, as a schedule
would. "Own" is the bytes of the pass's images not shared with other images (\`system df\`), per
100 builds; "engine" the change of \`system df\`'s total (layers, containers, volumes, build cache),
which other work on this shared engine moves too. "Janitor" is its own count of what it freed: the
sizes of the images it removed, the base they share included, so above what the disk got back.

| pass | builds | seconds | own growth per 100, MiB | own images left | engine growth per 100, MiB | janitor |
| --- | ---: | ---: | ---: | ---: | ---: | --- |
${rows.join("\n")}

Measured ${new Date().toISOString().slice(0, 10)} on Node ${process.version}, ${os.cpus().length} × ${os.cpus()[0]?.model.split(" ").slice(0, 2).join(" ") ?? "CPU"}, load average ${loadBefore.map((l) => l.toFixed(1)).join(" ")} before, ${loadAfter.map((l) => l.toFixed(1)).join(" ")} after.
`);
  console.log(rows.join("\n"));
}

await main();
