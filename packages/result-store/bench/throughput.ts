/**
 * Result store throughput, follower latency and memory while a step prints a lot.
 * Run: pnpm exec tsx packages/result-store/bench/throughput.ts [megabytes=1024] [lineBytes=100] [linesPerSecond]
 * Appends in slices of 1000 lines, yielding to the event loop between slices as real output
 * (arriving in chunks from a pipe) would, while one follower reads everything live. Without a rate
 * the producer saturates the CPU (throughput); with one it is paced (follower lag under load).
 */
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { setImmediate as yieldToLoop } from "node:timers/promises";
import { ResultStore } from "@wharf/result-store";

const megabytes = Number(process.argv[2] ?? 1024);
const lineBytes = Number(process.argv[3] ?? 100);
const totalLines = Math.floor((megabytes * 1024 * 1024) / (lineBytes + 1));
const linesPerSecond = process.argv[4] ? Number(process.argv[4]) : undefined;
const dir = await fs.mkdtemp(path.join(os.tmpdir(), "wharf-rs-bench-"));
const mb = (n: number) => Math.round(n / 1024 / 1024);

try {
  const store = await ResultStore.open(dir, { secrets: ["not-in-the-output"] });
  const line = "x".repeat(lineBytes);
  const rssBefore = process.memoryUsage().rss;
  let maxRss = rssBefore;
  const lags: number[] = [];
  let followed = 0;
  const follower = (async () => {
    for await (const batch of store.followLogs(0)) {
      const now = Date.now();
      lags.push(now - batch[batch.length - 1]!.timestamp);
      followed += batch.length;
    }
  })();

  const started = performance.now();
  for (let done = 0; done < totalLines; ) {
    const now = Date.now();
    const slice = Math.min(1000, totalLines - done);
    for (let i = 0; i < slice; i++) store.appendLog(1, line, now);
    done += slice;
    if (done % 100_000 < 1000) maxRss = Math.max(maxRss, process.memoryUsage().rss);
    if (linesPerSecond) {
      const due = started + (done / linesPerSecond) * 1000;
      await new Promise((r) => setTimeout(r, Math.max(0, due - performance.now())));
    } else {
      await yieldToLoop();
    }
  }
  await store.flush();
  const appendSeconds = (performance.now() - started) / 1000;
  await store.finish("SUCCESS");
  await follower;
  const totalSeconds = (performance.now() - started) / 1000;
  lags.sort((a, b) => a - b);
  const pct = (p: number) => lags[Math.min(lags.length - 1, Math.floor(lags.length * p))] ?? 0;
  const onDisk = (await fs.stat(path.join(dir, "logs.dat"))).size;

  const t0 = performance.now();
  let fromMiddle = 0;
  for await (const batch of store.followLogs(Math.floor(totalLines / 2), { maxBatch: 1 })) {
    fromMiddle = batch[0]!.logId;
    break;
  }
  const seekMs = performance.now() - t0;
  await store.close();

  console.log(`lines: ${totalLines} x ${lineBytes} B (${mb(onDisk)} MiB on disk), followed: ${followed}`);
  console.log(
    `append: ${Math.round(totalLines / appendSeconds)} lines/s, ${mb((totalLines * lineBytes) / appendSeconds)} MiB/s`,
  );
  console.log(`end-to-end incl. follower drain: ${totalSeconds.toFixed(1)} s`);
  console.log(`follower lag ms: p50 ${pct(0.5)}, p99 ${pct(0.99)}, max ${pct(1)}`);
  console.log(`rss MiB: before ${mb(rssBefore)}, max during ${mb(maxRss)}`);
  console.log(`first read from the middle (id ${fromMiddle}): ${seekMs.toFixed(2)} ms`);
} finally {
  await fs.rm(dir, { recursive: true, force: true });
}
