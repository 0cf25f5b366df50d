import http from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import {
  type ResolvedWorker,
  type WharfApiLogLine,
  WharfApiLogSource,
  WorkerLogSource,
} from "../src/index.js";
import { BUILD_REF, LiveBuild, range } from "./live-build.js";
import { logIds, readEvents } from "./sse-reader.js";

/**
 * The two read routes of wharf-api the history source uses, holding what the aggregator would
 * have delivered. (The shared wharf-api double records deliveries but is fed over gRPC; this one
 * is filled directly.)
 */
class WharfApiHistory {
  readonly builds = new Map<number, { status: string; lines: WharfApiLogLine[] }>();
  requests = 0;
  private constructor(
    private readonly server: http.Server,
    readonly url: string,
  ) {}

  static async start(): Promise<WharfApiHistory> {
    let self: WharfApiHistory | undefined;
    const server = http.createServer((req, res) => self!.answer(req, res));
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    self = new WharfApiHistory(server, `http://127.0.0.1:${(server.address() as AddressInfo).port}`);
    return self;
  }

  /** Stores lines 1..n of a build as wharf-api would (its own ids start elsewhere). */
  store(buildId: number, status: string, n: number, withWorkerIds: boolean): void {
    const lines = range(1, n).map((i) => ({
      logId: 1000 + i,
      buildId,
      message: `line ${i}`,
      timestamp: new Date(1_700_000_000_000 + i).toISOString(),
      ...(withWorkerIds ? { workerLogId: i, workerStepId: ((i - 1) % 3) + 1 } : {}),
    }));
    this.builds.set(buildId, { status, lines: lines.reverse() }); // order is the reader's job
  }

  private answer(req: http.IncomingMessage, res: http.ServerResponse): void {
    this.requests++;
    const m = /^\/api\/build\/(\d+)(\/log)?$/.exec(req.url ?? "");
    const build = m ? this.builds.get(Number(m[1])) : undefined;
    res.setHeader("content-type", "application/json");
    if (!m || !build) {
      res.statusCode = 404;
      res.end(JSON.stringify({ title: "Not Found" }));
      return;
    }
    res.end(JSON.stringify(m[2] ? build.lines : { buildId: Number(m[1]), status: build.status }));
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((r) => this.server.close(() => r()));
  }
}

let build: LiveBuild | undefined;
let api: WharfApiHistory | undefined;
afterEach(async () => {
  await build?.stop();
  await api?.close();
  build = api = undefined;
});

const logsUrl = (b: LiveBuild, query = "") => `${b.url}/api/builds/${BUILD_REF}/logs${query}`;

describe("WorkerLogSource with wharf-api history", () => {
  it("serves a released build from wharf-api: events, text and summary", async () => {
    api = await WharfApiHistory.start();
    api.store(Number(BUILD_REF), "Failed", 30, false);
    const history = new WharfApiLogSource({ url: api.url, pollIntervalMs: 50 });
    build = await LiveBuild.start({
      source: () => new WorkerLogSource({ resolveWorker: async () => null, history, retryIntervalMs: 50 }),
    });
    const res = await readEvents(logsUrl(build, "?follow=true&after=10"), {
      onEvent: (e) => e.event === "end",
    });
    expect(logIds(res.events)).toEqual(range(11, 30));
    expect(JSON.parse(res.events.at(-1)!.data)).toEqual({
      status: "FAILED",
      finished: true,
      message: "",
      lastLogId: 30,
    });
    const text = await (await fetch(logsUrl(build))).text();
    expect(text.split("\n").slice(0, 2)).toEqual(["[build] line 1", "[build] line 2"]);
    const summary = await (await fetch(`${build.url}/api/builds/${BUILD_REF}/summary`)).json();
    expect(summary).toMatchObject({ status: "FAILED", finished: true, lastLogId: 30, steps: [] });
    expect((await fetch(`${build.url}/api/builds/7/logs`)).status).toBe(404);
  });

  it("moves a follower from the worker to wharf-api when the worker is released, without a gap", async () => {
    api = await WharfApiHistory.start();
    const history = new WharfApiLogSource({ url: api.url, pollIntervalMs: 50 });
    let worker: ResolvedWorker | null = null;
    build = await LiveBuild.start({
      source: (address) => {
        worker = { address };
        return new WorkerLogSource({ resolveWorker: async () => worker, history, retryIntervalMs: 50 });
      },
    });
    const b = build;
    b.appendLines(1, 50);
    const released = async () => {
      // What the aggregator does: deliver everything, then release the worker, which goes away.
      api!.store(Number(BUILD_REF), "Completed", 80, true);
      worker = null;
      await b.rpc.close();
    };
    let releasing: Promise<void> | undefined;
    const res = await readEvents(logsUrl(b, "?follow=true"), {
      onEvent: (e) => {
        if (e.event === "log" && Number(e.id) === 50) releasing = released();
        return e.event === "end";
      },
    });
    await releasing;
    expect(logIds(res.events)).toEqual(range(1, 80));
    const lines = res.events.filter((e) => e.event === "log").flatMap((e) => JSON.parse(e.data));
    expect(lines[79]).toMatchObject({ logId: 80, stepId: 2, message: "line 80" });
    expect(JSON.parse(res.events.at(-1)!.data)).toMatchObject({ status: "SUCCESS", finished: true });
  });

  it("waits for a queued build's worker, then follows it", async () => {
    api = await WharfApiHistory.start();
    api.store(Number(BUILD_REF), "Scheduling", 0, true);
    const history = new WharfApiLogSource({ url: api.url, pollIntervalMs: 50 });
    let worker: ResolvedWorker | null = null;
    let address = "";
    build = await LiveBuild.start({
      source: (a) => {
        address = a;
        return new WorkerLogSource({ resolveWorker: async () => worker, history, retryIntervalMs: 50 });
      },
    });
    const b = build;
    let started = false;
    const res = await readEvents(logsUrl(b, "?follow=true"), {
      onEvent: (e) => {
        // The first summary only: another one comes before `end` with the steps the worker named.
        if (e.event === "summary" && !started) {
          started = true;
          // The worker starts once the viewer is waiting.
          b.appendLines(1, 5);
          worker = { address };
          void b.finish("SUCCESS");
        }
        return e.event === "end";
      },
    });
    expect(JSON.parse(res.events[0]!.data)).toMatchObject({ status: "PENDING", finished: false });
    expect(logIds(res.events)).toEqual(range(1, 5));
    expect(JSON.parse(res.events.at(-1)!.data)).toMatchObject({ status: "SUCCESS", finished: true });
    // wharf-api named no steps; the worker did, and the stream says so before it ends.
    const summaries = res.events.filter((e) => e.event === "summary").map((e) => JSON.parse(e.data));
    expect(summaries.map((s) => s.steps.length)).toEqual([0, 3]);
  });

  it("answers 503 while neither the worker nor wharf-api can be reached", async () => {
    api = await WharfApiHistory.start();
    const history = new WharfApiLogSource({ url: api.url });
    await api.close();
    build = await LiveBuild.start({
      source: () => new WorkerLogSource({ resolveWorker: async () => null, history }),
    });
    const res = await fetch(logsUrl(build, "?follow=true"));
    expect(res.status).toBe(503);
    expect(((await res.json()) as { detail: string }).detail).toMatch(/^wharf-api GET \/api\/build\/42: /);
  });
});
