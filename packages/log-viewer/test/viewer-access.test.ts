import { EventSource } from "eventsource";
import { afterEach, expect, it } from "vitest";
import { signBuildLink } from "../src/index.js";
import { BUILD_REF, LiveBuild } from "./live-build.js";

// The log routes behind the aggregator's token, against a real worker gRPC server and
// result store: who gets in with what, and what the page's cookie carries on.
const TOKEN = "viewer-token-3c9d";
let build: LiveBuild | undefined;
afterEach(async () => {
  await build?.stop();
  build = undefined;
});

const get = (b: LiveBuild, path: string, headers: Record<string, string> = {}) =>
  fetch(`${b.url}${path}`, { headers, redirect: "manual" });
const summary = `/api/builds/${BUILD_REF}/summary`;
const inAnHour = () => Math.floor(Date.now() / 1000) + 3600;

it("refuses every log route without the token (401 problem+json); assets stay open", async () => {
  build = await LiveBuild.start({ token: TOKEN });
  for (const path of [summary, `/api/builds/${BUILD_REF}/logs?format=text`, `/builds/${BUILD_REF}`]) {
    const res = await get(build, path);
    expect(res.status, path).toBe(401);
    expect(res.headers.get("content-type")).toMatch(/^application\/problem\+json/);
    expect(res.headers.get("www-authenticate")).toMatch(/^Bearer/);
  }
  expect((await get(build, summary, { authorization: "Bearer wrong" })).status).toBe(401);
  expect((await get(build, `${summary}?token=${TOKEN}x`)).status).toBe(401);
  expect((await get(build, "/builds/-/viewer.js")).status).toBe(200);
});

it("lets the token in as a bearer, a query parameter, or the cookie the page sets", async () => {
  build = await LiveBuild.start({ token: TOKEN });
  expect((await get(build, summary, { authorization: `Bearer ${TOKEN}` })).status).toBe(200);
  expect((await get(build, `${summary}?token=${TOKEN}`)).status).toBe(200);
  const page = await get(build, `/builds/${BUILD_REF}?token=${TOKEN}`);
  expect(page.status).toBe(200);
  const cookie = page.headers.get("set-cookie") ?? "";
  expect(cookie).toMatch(/HttpOnly/);
  expect(cookie).toMatch(/SameSite=Strict/);
  const jar = cookie.split(";")[0] as string;
  // The page's own event stream carries no query: the cookie lets it in.
  build.appendLines(1, 3);
  void build.finish("SUCCESS");
  const lines: string[] = [];
  await new Promise<void>((resolve, reject) => {
    const es = new EventSource(`${build?.url}/api/builds/${BUILD_REF}/logs?follow=true`, {
      fetch: (url, init) => fetch(url, { ...init, headers: { ...init?.headers, cookie: jar } }),
    });
    es.addEventListener("log", (e) => {
      for (const l of JSON.parse(e.data) as { message: string }[]) lines.push(l.message);
    });
    es.addEventListener("end", () => {
      es.close();
      resolve();
    });
    es.addEventListener("error", (e) => {
      es.close();
      reject(new Error(`event stream failed: ${JSON.stringify(e)}`));
    });
  });
  expect(lines).toEqual(["line 1", "line 2", "line 3"]);
});

it("opens one build, until it expires, to a link signed with the token", async () => {
  build = await LiveBuild.start({ token: TOKEN });
  const link = signBuildLink(TOKEN, BUILD_REF, inAnHour());
  expect((await get(build, `${summary}?${link}`)).status).toBe(200);
  const page = await get(build, `/builds/${BUILD_REF}?${link}`);
  expect(page.status).toBe(200);
  const jar = (page.headers.get("set-cookie") ?? "").split(";")[0] as string;
  expect((await get(build, summary, { cookie: jar })).status).toBe(200);
  // Not another build, not after it expired, not signed with another key, not tampered with.
  expect((await get(build, `/api/builds/other/summary?${link}`)).status).toBe(401);
  const expired = signBuildLink(TOKEN, BUILD_REF, Math.floor(Date.now() / 1000) - 1);
  expect((await get(build, `${summary}?${expired}`)).status).toBe(401);
  expect((await get(build, `${summary}?${signBuildLink("other-key", BUILD_REF, inAnHour())}`)).status).toBe(
    401,
  );
  const later = new URLSearchParams(link);
  later.set("expires", String(inAnHour() + 86_400));
  expect((await get(build, `${summary}?${later}`)).status).toBe(401);
});

it("opens the build list only to the token, and keeps it as a cookie for the list's requests", async () => {
  const builds = {
    recent: async () => [
      {
        buildId: Number(BUILD_REF),
        status: "RUNNING" as const,
        finished: false,
        message: "",
        startedAt: 1,
        finishedAt: null,
      },
    ],
  };
  build = await LiveBuild.start({ token: TOKEN, builds });
  const link = signBuildLink(TOKEN, BUILD_REF, inAnHour());
  for (const path of ["/", "/builds", "/api/builds", `/builds?${link}`, `/api/builds?${link}`]) {
    expect((await get(build, path)).status, path).toBe(401);
  }
  expect((await get(build, "/builds/-/build-list.js")).status).toBe(200);
  const page = await get(build, `/builds?token=${TOKEN}`);
  expect(page.status).toBe(200);
  const jar = (page.headers.get("set-cookie") ?? "").split(";")[0] as string;
  const list = await get(build, "/api/builds?status=RUNNING", { cookie: jar });
  // The list's JSON names the build by its wire name, as text.
  const { buildId: _, ...entry } = (await builds.recent())[0]!;
  expect(await list.json()).toEqual({ builds: [{ buildRef: BUILD_REF, ...entry }] });
  expect((await get(build, "/api/builds?status=NOPE", { cookie: jar })).status).toBe(400);
});
