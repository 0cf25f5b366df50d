/**
 * A 200,000-line finished log in the build page: a ResultStore holds the finished build (lines
 * of ~70 bytes over 3 steps, every 10th coloured, every 1000th a progress bar); the log viewer
 * routes serve it over the worker's gRPC on 127.0.0.1 and headless Debian Chromium opens the page.
 * Measures navigation → every line on the page and the build's end shown ("open"), then a search
 * typed into the page → its matches counted and the first one shown ("search"), and the page's
 * JS heap. Writes the "big log" section of BENCHMARKS.md. Issue 18's goal: each ≤ 1 s.
 *
 *   pnpm exec tsx bench/big-log.ts [lines]     (default 200000)
 */

import { existsSync } from "node:fs";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { logViewerRoutes, WorkerLogSource } from "@wharf/log-viewer";
import { ResultStore } from "@wharf/result-store";
import { CHROMIUM_PATH, chromiumLaunchOptions } from "@wharf/testkit";
import { startWorkerRpcServer } from "@wharf/worker-rpc";
import Fastify from "fastify";
import { chromium } from "playwright-core";
import { writeBenchmarkSection } from "./benchmarks-file.js";

const TOTAL = Number(process.argv[2] ?? 200_000);
const GOAL_MS = 1000;
const RUNS = 5;

if (!existsSync(CHROMIUM_PATH)) {
  console.error(`${CHROMIUM_PATH} is missing: run scripts/setup.sh (apt-get install -y chromium)`);
  process.exit(1);
}

const dir = await fs.mkdtemp(path.join(os.tmpdir(), "bench-big-log-"));
const userDataDir = await fs.mkdtemp(path.join(os.tmpdir(), "bench-chromium-"));
const store = await ResultStore.open(dir, { buildRef: "1" });
store.setSteps([
  { stepId: 1, stage: "build", name: "compile" },
  { stepId: 2, stage: "build", name: "lint" },
  { stepId: 3, stage: "test", name: "unit" },
]);
store.appendStatus(0, "RUNNING");
for (let n = 1; n <= TOTAL; n++) {
  const text =
    n % 1000 === 0
      ? `downloading ${n}: 10%\r 50%\r100%\r`
      : n % 10 === 0
        ? `\x1b[31merror\x1b[0m line ${n} ${"x".repeat(50)}`
        : `line ${n} ${"y".repeat(60)}`;
  store.appendLog((n % 3) + 1, text);
}
store.appendLog(2, "the needle in the haystack");
for (const step of [1, 2, 3]) store.appendStatus(step, step === 2 ? "FAILED" : "SUCCESS");
await store.finish("FAILED", "lint failed");
const rpc = await startWorkerRpcServer({ store, host: "127.0.0.1", port: 0, shutdownGraceMs: 0 });
const address = `127.0.0.1:${rpc.port}`;
const app = Fastify({ logger: false });
await app.register(logViewerRoutes, {
  source: new WorkerLogSource({ resolveWorker: async () => ({ address }) }),
});
const url = await app.listen({ host: "127.0.0.1", port: 0 });
const browser = await chromium.launchPersistentContext(userDataDir, {
  ...chromiumLaunchOptions(),
  viewport: { width: 1200, height: 800 },
  // The page's CSP forbids eval; the bench's probes are evaluated strings.
  bypassCSP: true,
});

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;
try {
  // The server's part alone: the responses the page asks for, read by fetch instead.
  const records: number[] = [];
  const stream: number[] = [];
  for (let run = 0; run < RUNS; run++) {
    let t = Date.now();
    await (await fetch(`${url}/api/builds/1/logs?format=records`)).text();
    records.push(Date.now() - t);
    t = Date.now();
    await (await fetch(`${url}/api/builds/1/logs?format=sse`)).text();
    stream.push(Date.now() - t);
  }
  const open: number[] = [];
  const search: number[] = [];
  const pageTask: number[] = [];
  const pageCpu: number[] = [];
  const rendererCpu: number[] = [];
  const serverCpu: number[] = [];
  let heapMb = 0;
  let domLines = 0;
  for (let run = 0; run < RUNS; run++) {
    const page = await browser.newPage();
    // CPU time grows less with the machine's load than wall time does: the page's main thread
    // (ThreadTime) and renderer (ProcessTime), and this process (worker + server + playwright's
    // driver) while the page opened. TaskDuration is the main thread's busy wall time.
    const cdp = await page.context().newCDPSession(page);
    await cdp.send("Performance.enable");
    const metrics = async () => {
      const all = (await cdp.send("Performance.getMetrics")).metrics;
      const value = (name: string) => all.find((m) => m.name === name)?.value ?? 0;
      return { task: value("TaskDuration"), thread: value("ThreadTime"), process: value("ProcessTime") };
    };
    const m0 = await metrics();
    const cpu0 = process.cpuUsage();
    const t0 = Date.now();
    await page.goto(`${url}/builds/1`);
    await page.waitForFunction(
      `document.body.dataset.ended === "true" && document.body.dataset.lastLogId === "${TOTAL + 1}"`,
      undefined,
      { timeout: 120_000, polling: "raf" },
    );
    open.push(Date.now() - t0);
    const cpu = process.cpuUsage(cpu0);
    serverCpu.push(Math.round((cpu.user + cpu.system) / 1000));
    const m1 = await metrics();
    pageTask.push(Math.round((m1.task - m0.task) * 1000));
    pageCpu.push(Math.round((m1.thread - m0.thread) * 1000));
    rendererCpu.push(Math.round((m1.process - m0.process) * 1000));
    domLines = await page.evaluate<number>('document.querySelectorAll("#log .line").length');
    // Typed as a reader would; timed in the page from the input event to the match shown.
    const ms = await page.evaluate<number>(`(async () => {
      const input = document.getElementById("search");
      const t = performance.now();
      input.value = "needle";
      input.dispatchEvent(new Event("input"));
      await new Promise((r) => requestAnimationFrame(() => setTimeout(r, 0)));
      if (document.getElementById("search-count").textContent !== "1 of 1") throw new Error("no match");
      return performance.now() - t;
    })()`);
    search.push(Math.round(ms));
    heapMb =
      Math.round(((await page.evaluate<number>("performance.memory.usedJSHeapSize")) / 2 ** 20) * 10) / 10;
    await page.close();
  }
  const section = [
    "## big log",
    "",
    `\`pnpm exec tsx bench/big-log.ts\` — a finished build of ${(TOTAL + 1).toLocaleString("en")} lines (~70 bytes over 3 steps,`,
    "every 10th coloured, every 1000th a progress bar) served by the log viewer routes over the worker's gRPC on",
    '127.0.0.1, opened in headless Debian Chromium. "Open": navigation → every line on the page and the end',
    'shown. "Search": a query typed → its match counted, its folded section opened and the line scrolled to',
    `(the frame after). Median of ${RUNS} page loads; server and browser share the machine's cores.`,
    "",
    "| 200k-line log | median ms | runs ms | goal |",
    "| --- | ---: | --- | --- |",
    `| the records response alone (fetch) | ${median(records)} | ${records.join(", ")} | |`,
    `| before: the same lines as events (fetch) | ${median(stream)} | ${stream.join(", ")} | |`,
    `| open | ${median(open)} | ${open.join(", ")} | ≤ ${GOAL_MS}: ${median(open) <= GOAL_MS ? "met" : "not met"} |`,
    `| open: the page's main thread busy (TaskDuration, wall time) | ${median(pageTask)} | ${pageTask.join(", ")} | |`,
    `| open: the page's main-thread CPU (ThreadTime) | ${median(pageCpu)} | ${pageCpu.join(", ")} | |`,
    `| open: the page's renderer process CPU (ProcessTime) | ${median(rendererCpu)} | ${rendererCpu.join(", ")} | |`,
    `| open: worker + server CPU (one process) | ${median(serverCpu)} | ${serverCpu.join(", ")} | |`,
    `| search | ${median(search)} | ${search.join(", ")} | ≤ ${GOAL_MS}: ${median(search) <= GOAL_MS ? "met" : "not met"} |`,
    "",
    `JS heap after opening: ${heapMb} MB; lines in the DOM: ${domLines}.`,
    "",
    "How the page gets there: its head preloads `?format=records` (one `logId TAB stepId TAB time TAB",
    "message` line each), so the request starts before viewer.js is loaded; the server reads the worker's",
    "StreamLogBatches in its biggest batches (10,000 lines, over a 1 MiB HTTP/2 window: the default 64 KiB",
    "one made each 1 MiB message wait for ~16 window updates) and copies their bytes into records with the",
    "numbers written as digits, without a string, object or Buffer per line; the page decodes the body",
    "as it arrives and reads each line's numbers digit by digit, opens the event stream after the last id",
    "as soon as the header names it, and appends each line to its step's chunk as a push: colours,",
    "progress bars and HTML are worked out when a chunk is drawn (near the viewport), search text when a",
    "search first needs it. Before the records, the page read ~200 `log` events of JSON: 0.7–1.9 s for the",
    "server alone and ~4.3–4.5 s to open (load 3.7–6.3); row 2 is that transport, measured in this run. CPU rows: the page's main thread (ThreadTime) and renderer (ProcessTime), which grow",
    "less with the machine's load than wall time; TaskDuration is the main thread's busy wall time; this",
    "process holds the worker's store and gRPC server, the log viewer routes and playwright's driver (in a",
    "deployment the worker runs elsewhere). Receiving the 19 MB body alone in a blank page (no parsing)",
    "cost the main thread 75–150 ms CPU and 0.6–2.2 s wall at load 13. The same bench on the code before",
    "this round (commit e2ed1e1), run interleaved with this one's in the same minutes, three runs of five",
    "loads each (the median of the runs' medians, before → after): at load 8–9, open 860 → 635 ms (runs'",
    "medians 794–1711 → 622–1423), records alone 779 → 351, worker + server CPU 430 → 258, main-thread CPU",
    "283 → 237, renderer CPU 430 → 400; at load 12–15, open 1337 → 1407 (1120–1441 → 1178–1433: no",
    "difference at that load), worker + server CPU 361 → 259, main-thread CPU 286 → 289. Earlier the same",
    "day at load ~3 the code before measured open 789–1057 ms (median 1004). Wall time on this machine",
    "grows with its load average (below): 2 cores shared by several engineers' tests; the goal is for an",
    "unloaded machine.",
    "",
    `Measured ${new Date().toISOString().slice(0, 10)} on Node ${process.version}, ${os.cpus().length} × ${os.cpus()[0]?.model.trim() ?? "cpu"},`,
    `load average ${os
      .loadavg()
      .map((l) => l.toFixed(1))
      .join(" ")}.`,
    "",
  ].join("\n");
  process.stdout.write(`${section}\n`);
  writeBenchmarkSection(section);
} finally {
  await browser.close();
  await app.close();
  await rpc.close();
  await store.close();
  await fs.rm(dir, { recursive: true, force: true });
  await fs.rm(userDataDir, { recursive: true, force: true });
}
