// biome-ignore-all lint/suspicious/noTemplateCurlyInString: ${NAME} is Wharf variable syntax inside generated YAML.
/**
 * How long `.wharf-ci.yml` handling takes on a large file: a generated pipeline with
 * 5,000 steps (50 stages × 100 steps, mixed step types, variables, inputs, environments).
 * Reports the median of several runs of parse, lint and plan, and writes the
 * "wharfyml parse" section of BENCHMARKS.md.
 *
 *   pnpm exec tsx bench/wharfyml-parse.ts
 */

import os from "node:os";
import { lintPipeline, parsePipeline, planPipeline } from "@wharf/wharfyml";
import { LineCounter, parseAllDocuments } from "yaml";
import { writeBenchmarkSection } from "./benchmarks-file.js";

const stages = 50;
const stepsPerStage = 100;
const warmups = 2;
const runs = 7;

function generatePipeline(): string {
  const out = [
    "inputs:",
    "  - {name: TAG, type: string, default: latest}",
    "  - {name: REPLICAS, type: number, default: 2}",
    "environments:",
    "  dev: {HOST: dev.local}",
    "  prod: {HOST: prod.local}",
  ];
  for (let s = 0; s < stages; s++) {
    out.push(`stage-${s}:`);
    if (s % 10 === 9) out.push("  environments: [prod]");
    for (let i = 0; i < stepsPerStage; i++) {
      out.push(`  step-${i}:`);
      switch (i % 10) {
        case 0:
          out.push(
            "    docker:",
            "      file: Dockerfile",
            "      tag: ${TAG},v${REPLICAS}",
            "      push: false",
          );
          break;
        case 1:
          out.push("    kubectl: {file: deploy/k8s.yml, namespace: '${HOST}'}");
          break;
        case 2:
          out.push(
            "    helm:",
            "      chart: app",
            "      name: app-${TAG}",
            "      namespace: apps",
            "      set: {replicas: '${REPLICAS}'}",
          );
          break;
        default:
          out.push(
            "    container:",
            "      image: busybox:${TAG}",
            "      cmds:",
            `        - echo "stage ${s} step ${i} on \${HOST}"`,
            "        - make test",
            "      retries: 1",
            "      timeout: 10m",
          );
      }
    }
  }
  return `${out.join("\n")}\n`;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
}

/**
 * Wall time and CPU time (user + system) of this process. On a shared machine the CPU
 * time is the steadier number: wall time also counts waiting for a core.
 */
function measure(fn: () => unknown): { wallMs: number; cpuMs: number } {
  for (let i = 0; i < warmups; i++) fn();
  const wall: number[] = [];
  const cpu: number[] = [];
  for (let i = 0; i < runs; i++) {
    const startCpu = process.cpuUsage();
    const start = performance.now();
    fn();
    wall.push(performance.now() - start);
    const used = process.cpuUsage(startCpu);
    cpu.push((used.user + used.system) / 1000);
  }
  return { wallMs: median(wall), cpuMs: median(cpu) };
}

const text = generatePipeline();
const check = planPipeline(text, { environment: "prod" });
const stepCount = check.plan?.stages.reduce((n, s) => n + s.steps.length, 0) ?? 0;
if (!check.plan || stepCount !== stages * stepsPerStage) {
  console.error(check.diagnostics.slice(0, 5));
  throw new Error(`generated pipeline did not plan to ${stages * stepsPerStage} steps (got ${stepCount})`);
}

const results = {
  yaml: measure(() => parseAllDocuments(text, { lineCounter: new LineCounter(), uniqueKeys: false })),
  parse: measure(() => parsePipeline(text)),
  lint: measure(() => lintPipeline(text)),
  plan: measure(() => planPipeline(text, { environment: "prod", inputs: { TAG: "v1" } })),
};

const kib = (Buffer.byteLength(text) / 1024).toFixed(0);
const lines = text.split("\n").length - 1;
const machine = `Node ${process.version}, ${os.cpus().length} × ${os.cpus()[0]?.model.trim() ?? "cpu"}, load average ${os
  .loadavg()
  .map((l) => l.toFixed(1))
  .join(" ")}`;
const section = [
  "## wharfyml parse",
  "",
  `\`pnpm exec tsx bench/wharfyml-parse.ts\` — a generated \`.wharf-ci.yml\` with ${stepCount} steps`,
  `(${stages} stages, mixed step types, variables; ${lines} lines, ${kib} KiB). Median of ${runs} runs after ${warmups} warm-ups.`,
  "",
  "| operation | median wall ms | median CPU ms |",
  "| --- | ---: | ---: |",
  row("`yaml` parseAllDocuments alone (baseline)", results.yaml),
  row("parse (YAML + structure)", results.parse),
  row("lint (parse + every step's fields)", results.lint),
  row("plan (lint + filtering + substitution, env prod)", results.plan),
  "",
  `Measured ${new Date().toISOString().slice(0, 10)} on ${machine}.`,
  "Most of the time is the `yaml` package building its document. Wall time on a loaded machine",
  "(see the load average) is inflated by waiting for a core; CPU time is the steadier figure.",
  "",
].join("\n");

function row(label: string, r: { wallMs: number; cpuMs: number }): string {
  return `| ${label} | ${r.wallMs.toFixed(0)} | ${r.cpuMs.toFixed(0)} |`;
}

console.log(section);

writeBenchmarkSection(section);
