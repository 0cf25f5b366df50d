import { EventSource } from "eventsource";
import { afterEach, describe, expect, it } from "vitest";
import { BUILD_REF, LiveBuild, range, waitFor } from "./live-build.js";
import { logIds, type ParsedEvent, readEvents } from "./sse-reader.js";

let build: LiveBuild | undefined;
afterEach(async () => {
  await build?.stop();
  build = undefined;
});

const logsUrl = (b: LiveBuild, query = "") => `${b.url}/api/builds/${BUILD_REF}/logs${query}`;
const dataOf = (events: ParsedEvent[], name: string) =>
  events.filter((e) => e.event === name).map((e) => JSON.parse(e.data));

describe("GET /api/builds/:buildRef/logs?follow=true (Server-Sent Events)", () => {
  it("gives a late viewer every line from line 1, then live lines, then end", async () => {
    build = await LiveBuild.start();
    const b = build;
    b.appendLines(1, 300);
    let appended = false;
    const res = await readEvents(logsUrl(b, "?follow=true"), {
      onEvent: (e) => {
        // Once the history arrived, the build goes on and finishes while the viewer watches.
        if (!appended && e.event === "log" && Number(e.id) === 300) {
          appended = true;
          b.store.appendStatus(1, "SUCCESS");
          b.appendLines(301, 450);
          void b.finish("SUCCESS");
        }
        return e.event === "end";
      },
    });
    expect(res.contentType).toMatch(/^text\/event-stream/);
    expect(res.events[0]?.event).toBe("summary");
    expect(res.events[0]?.retry).toBe(200);
    expect(dataOf(res.events, "summary")[0]).toMatchObject({
      buildRef: BUILD_REF,
      status: "RUNNING",
      finished: false,
      steps: [{ name: "compile" }, { name: "lint" }, { name: "unit" }],
    });
    expect(logIds(res.events)).toEqual(range(1, 450));
    // Every log event's id is its last line, so Last-Event-ID resumes right after it.
    for (const e of res.events.filter((x) => x.event === "log")) {
      expect(Number(e.id)).toBe((JSON.parse(e.data) as { logId: number }[]).at(-1)?.logId);
    }
    const lines = dataOf(res.events, "log").flat();
    expect(lines[0]).toMatchObject({ logId: 1, stepId: 1, message: "line 1" });
    expect(dataOf(res.events, "status")).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ stepId: 1, status: "SUCCESS" }),
        expect.objectContaining({ stepId: 0, status: "SUCCESS" }),
      ]),
    );
    expect(res.events.filter((e) => e.event === "status").every((e) => e.id === undefined)).toBe(true);
    expect(res.events.at(-1)).toMatchObject({ event: "end" });
    expect(dataOf(res.events, "end")[0]).toEqual({
      status: "SUCCESS",
      finished: true,
      message: "",
      lastLogId: 450,
    });
  });

  it("resumes after Last-Event-ID with no gap and no duplicate", async () => {
    build = await LiveBuild.start();
    const b = build;
    b.appendLines(1, 120);
    const first = await readEvents(logsUrl(b, "?follow=true"), {
      onEvent: (e) => e.event === "log" && Number(e.id) >= 120,
    });
    const lastSeen = Number(first.events.filter((e) => e.event === "log").at(-1)?.id);
    // Lines go on while nobody is connected.
    b.appendLines(121, 200);
    setTimeout(() => {
      b.appendLines(201, 260);
      void b.finish("SUCCESS");
    }, 50);
    const second = await readEvents(logsUrl(b, "?follow=true&after=1"), {
      headers: { "last-event-id": String(lastSeen) },
      onEvent: (e) => e.event === "end",
    });
    const seen = [...logIds(first.events), ...logIds(second.events)];
    expect(seen).toEqual(range(1, 260));
  });

  it("keeps a real EventSource gap-free through dropped connections", async () => {
    build = await LiveBuild.start();
    const b = build;
    const ids: number[] = [];
    let opens = 0;
    let ended = false;
    const es = new EventSource(logsUrl(b, "?follow=true"));
    es.addEventListener("open", () => opens++);
    es.addEventListener("log", (e) => {
      for (const l of JSON.parse(e.data) as { logId: number }[]) ids.push(l.logId);
    });
    es.addEventListener("end", () => {
      ended = true;
      es.close();
    });
    try {
      for (let round = 0; round < 3; round++) {
        b.appendLines(round * 100 + 1, round * 100 + 100);
        await waitFor(() => ids.at(-1) === round * 100 + 100, `line ${round * 100 + 100}`);
        // The network drops every open connection; the client reconnects with Last-Event-ID.
        b.app.server.closeAllConnections();
        await waitFor(() => opens === round + 2, `reconnect ${round + 1}`);
      }
      await b.finish("SUCCESS");
      await waitFor(() => ended, "end event");
    } finally {
      es.close();
    }
    expect(opens).toBe(4);
    expect(ids).toEqual(range(1, 300));
  });

  it("ends with the build's final status and message", async () => {
    build = await LiveBuild.start();
    build.appendLines(1, 3);
    await build.finish("FAILED");
    const res = await readEvents(logsUrl(build, "?follow=true"), { onEvent: (e) => e.event === "end" });
    expect(logIds(res.events)).toEqual([1, 2, 3]);
    expect(dataOf(res.events, "end")).toEqual([
      { status: "FAILED", finished: true, message: "build failed", lastLogId: 3 },
    ]);
  });

  it("without follow sends the lines there are now, then end with finished false", async () => {
    build = await LiveBuild.start();
    build.appendLines(1, 25);
    const res = await readEvents(logsUrl(build, "?after=5"), { onEvent: (e) => e.event === "end" });
    expect(logIds(res.events)).toEqual(range(6, 25));
    expect(dataOf(res.events, "end")).toEqual([
      { status: "RUNNING", finished: false, message: "", lastLogId: 25 },
    ]);
  });

  it("sends heartbeat comments while the build is quiet", async () => {
    build = await LiveBuild.start();
    build.appendLines(1, 1);
    const res = await readEvents(logsUrl(build, "?follow=true"), { onEvent: (e) => e.event === "comment" });
    expect(res.events.at(-1)).toEqual({ event: "comment", data: "heartbeat" });
  });

  it("ends open streams when the server closes, so shutdown does not wait for builds", async () => {
    build = await LiveBuild.start();
    const b = build;
    b.appendLines(1, 5);
    let closing: Promise<void> | undefined;
    const res = await readEvents(logsUrl(b, "?follow=true"), {
      onEvent: (e) => {
        if (e.event === "log") closing = b.app.close();
        return false;
      },
    });
    await closing;
    expect(logIds(res.events)).toEqual(range(1, 5));
    expect(res.events.some((e) => e.event === "end")).toBe(false);
  });

  it("refuses unknown builds, bad ids and resume points beyond the log", async () => {
    build = await LiveBuild.start();
    build.appendLines(1, 2);
    const unknown = await fetch(`${build.url}/api/builds/999/logs?follow=true`);
    expect(unknown.status).toBe(404);
    expect(unknown.headers.get("content-type")).toMatch(/^application\/problem\+json/);
    expect(await unknown.json()).toMatchObject({ status: 404, detail: 'build "999" is not known' });
    expect((await fetch(`${build.url}/api/builds/${encodeURIComponent("a b")}/logs`)).status).toBe(400);
    expect((await fetch(logsUrl(build, "?follow=true&after=-1"))).status).toBe(400);
    expect((await fetch(logsUrl(build, "?follow=yes"))).status).toBe(400);
    const beyond = await fetch(logsUrl(build, "?follow=true&after=3"));
    expect(beyond.status).toBe(400);
    expect(((await beyond.json()) as { detail: string }).detail).toBe("line 3 is beyond the last line (2)");
    const garbage = await fetch(logsUrl(build, "?follow=true"), { headers: { "last-event-id": "abc" } });
    expect(garbage.status).toBe(400);
  });
});

describe("steps on the event stream", () => {
  it("sends every status event from the first, and a new summary when a step appears", async () => {
    build = await LiveBuild.start();
    const b = build;
    b.store.appendStatus(1, "RUNNING", 1_000);
    b.appendLines(1, 3);
    let added = false;
    const res = await readEvents(logsUrl(b, "?follow=true"), {
      onEvent: (e) => {
        if (!added && e.event === "log") {
          added = true;
          // The worker names a step it did not list before (as after planning the build).
          b.store.setSteps([
            { stepId: 1, stage: "build", name: "compile" },
            { stepId: 2, stage: "build", name: "lint" },
            { stepId: 3, stage: "test", name: "unit" },
            { stepId: 4, stage: "deploy", name: "push" },
          ]);
          b.store.appendStatus(4, "RUNNING", 2_000);
          void b.finish("SUCCESS");
        }
        return e.event === "end";
      },
    });
    // The status recorded before the viewer came is there, with its time.
    expect(dataOf(res.events, "status")[1]).toMatchObject({ stepId: 1, status: "RUNNING", timestamp: 1_000 });
    const names = res.events
      .filter((e) => e.event === "summary" || (e.event === "status" && JSON.parse(e.data).stepId === 4))
      .map((e) => (e.event === "summary" ? JSON.parse(e.data).steps.length : "status 4"));
    expect(names).toEqual([3, 4, "status 4"]);
  });
});

describe("GET /api/builds/:buildRef/logs as text", () => {
  it("downloads the whole log with step labels, colours stripped unless asked to keep them", async () => {
    build = await LiveBuild.start();
    build.store.appendLog(1, "\x1b[31mred\x1b[0m alert");
    build.store.appendLog(2, "bell \x07 rang");
    build.appendLines(3, 2002);
    const res = await fetch(logsUrl(build));
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("text/plain; charset=utf-8");
    expect(res.headers.get("content-disposition")).toBe('inline; filename="build-42.log"');
    const lines = (await res.text()).split("\n");
    expect(lines[0]).toBe("[build/compile] red alert");
    expect(lines[1]).toBe("[build/lint] bell \\x07 rang");
    expect(lines[2]).toBe("[test/unit] line 3");
    expect(lines.length).toBe(2003);
    expect(lines.at(-2)).toBe("[build/compile] line 2002");
    expect(lines.at(-1)).toBe("");
    const coloured = await (await fetch(logsUrl(build, "?format=text&ansi=keep"))).text();
    expect(coloured.split("\n")[0]).toBe("[build/compile] \x1b[31mred\x1b[0m alert");
  });

  it("downloads one step's lines with ?step=", async () => {
    build = await LiveBuild.start();
    build.appendLines(1, 9);
    const res = await fetch(logsUrl(build, "?format=text&step=2"));
    expect(res.headers.get("content-disposition")).toBe('inline; filename="build-42-step-2.log"');
    expect((await res.text()).trimEnd().split("\n")).toEqual([
      "[build/lint] line 2",
      "[build/lint] line 5",
      "[build/lint] line 8",
    ]);
    expect((await fetch(logsUrl(build, "?format=text&step=x"))).status).toBe(400);
  });

  it("ends the download of a running build at its current last line", async () => {
    build = await LiveBuild.start();
    build.appendLines(1, 10);
    const text = await (await fetch(logsUrl(build, "?format=text"))).text();
    expect(text.trimEnd().split("\n")).toHaveLength(10);
    const empty = await LiveBuild.start();
    try {
      expect(await (await fetch(`${empty.url}/api/builds/${BUILD_REF}/logs`)).text()).toBe("");
    } finally {
      await empty.stop();
    }
  });
});

describe("GET /api/builds/:buildRef/summary and the page", () => {
  it("serves the summary, the page and its script with anser in it", async () => {
    build = await LiveBuild.start();
    build.appendLines(1, 4);
    const summary = await (await fetch(`${build.url}/api/builds/${BUILD_REF}/summary`)).json();
    expect(summary).toMatchObject({ buildRef: BUILD_REF, status: "RUNNING", lastLogId: 4, finished: false });
    const page = await fetch(`${build.url}/builds/${BUILD_REF}`);
    expect(page.headers.get("content-type")).toBe("text/html; charset=utf-8");
    expect(page.headers.get("content-security-policy")).toContain("default-src 'self'");
    const html = await page.text();
    expect(html).toContain('data-logs-url="../api/builds/42/logs"');
    expect(html).toContain('href="../api/builds/42/logs?format=text" download="build-42.log"');
    const script = await (await fetch(`${build.url}/builds/-/viewer.js`)).text();
    expect(script).toContain("window.Anser = module.exports");
    expect((await fetch(`${build.url}/builds/-/viewer.css`)).status).toBe(200);
    expect((await fetch(`${build.url}/builds/999`)).status).toBe(404);
    // Text that is no build id is the client's mistake, said as such.
    const nope = await fetch(`${build.url}/builds/nope`);
    expect(nope.status).toBe(400);
    expect(((await nope.json()) as { detail: string }).detail).toMatch(
      /^the build in the path must be a wharf-api build id/,
    );
  });
});
