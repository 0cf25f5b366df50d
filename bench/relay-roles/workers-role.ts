import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { ResultStore } from "@wharf/result-store";
import { startWorkerRpcServer } from "@wharf/worker-rpc";
import type { Handlers } from "./bench-role.js";

const LINE_FILLER = "x".repeat(70);

/** Exactly 80 bytes: a 10-digit counter and 70 filler bytes. */
function benchLine(n: number): string {
  return `${String(n).padStart(10, "0")}${LINE_FILLER}`;
}

export function workersRole(): Handlers {
  const workers: { store: ResultStore; close(): Promise<void>; address: string; dir: string }[] = [];
  return {
    /** Starts `count` workers; returns their gRPC addresses. */
    async open(count: number, buildRefBase: number) {
      for (let i = 0; i < count; i++) {
        const dir = await fs.mkdtemp(path.join(os.tmpdir(), "bench-worker-"));
        const store = await ResultStore.open(dir, { buildRef: String(buildRefBase + i) });
        const server = await startWorkerRpcServer({ store, host: "127.0.0.1", port: 0, shutdownGraceMs: 0 });
        workers.push({ store, dir, address: `127.0.0.1:${server.port}`, close: () => server.close() });
      }
      return workers.map((w) => w.address);
    },
    /** Writes `lines` 80-byte lines into every worker's store (step 1) and finishes the builds. */
    async fill(lines: number) {
      for (const w of workers) {
        for (let i = 1; i <= lines; i++) w.store.appendLog(1, benchLine(i));
        await w.store.finish("SUCCESS");
      }
    },
    /** Writes one line into worker 0 now (the build goes on). */
    async appendOne(message: string) {
      workers[0]?.store.appendLog(1, message, Date.now());
    },
    /** Writes `total` lines into worker 0 at `perTick` lines every `tickMs`, stamped with Date.now(). */
    async live(total: number, perTick: number, tickMs: number) {
      const w = workers[0];
      if (!w) throw new Error("no worker open");
      const start = performance.now();
      for (let i = 0; i < total; i += perTick) {
        for (let j = 0; j < perTick; j++) w.store.appendLog(1, `live ${i + j}`, Date.now());
        // Paced from the start, so a late tick does not slow the rate down.
        const due = start + ((i + perTick) / perTick) * tickMs;
        await new Promise((r) => setTimeout(r, Math.max(0, due - performance.now())));
      }
      await w.store.finish("SUCCESS");
    },
    async shutdown() {
      for (const w of workers) {
        await w.close();
        await w.store.close();
        await fs.rm(w.dir, { recursive: true, force: true });
      }
    },
  };
}
