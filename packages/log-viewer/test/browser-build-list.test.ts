import path from "node:path";
import { createTestDatabase, type Database, openDatabase, type TestDatabase } from "@wharf/db";
import { BuildRecordStore, migrateRelay } from "@wharf/relay";
import Fastify, { type FastifyInstance } from "fastify";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { buildListRoutes } from "../src/index.js";
import { haveChromium, openChromium, outputDir } from "./chromium-page.js";
import { waitFor } from "./live-build.js";

// The list at / as the aggregator serves it: the relay's records in real Postgres, the routes on
// a real server, Debian Chromium. Builds change in the database only; the page must see them
// without reloading and without asking again itself.
describe.skipIf(!haveChromium && !process.env.CI)("the build list in Chromium: live updates", () => {
  let chromium: Awaited<ReturnType<typeof openChromium>>;
  let testDb: TestDatabase;
  let db: Database;
  let records: BuildRecordStore;
  let app: FastifyInstance;
  let url: string;
  const listRequests: string[] = [];

  beforeAll(async () => {
    testDb = await createTestDatabase(inject("pgUrl"), "viewer_build_list");
    db = await openDatabase({ url: testDb.url });
    await migrateRelay(db);
    records = new BuildRecordStore(db);
    app = Fastify({ logger: false });
    app.addHook("onRequest", async (req) => {
      if (req.url.startsWith("/api/builds")) listRequests.push(req.url);
    });
    await app.register(buildListRoutes, { builds: { recent: (q) => records.recent(q) }, pollMs: 100 });
    url = await app.listen({ host: "127.0.0.1", port: 0 });
    chromium = await openChromium();
  });

  afterAll(async () => {
    await chromium?.close();
    await app?.close();
    await db?.close();
    await testDb?.drop();
  });

  const base = { workerId: "w1", message: "", finishedAt: null, branch: "main", projectId: 7 };

  it("shows a new build and its status changes as they happen, in the filtered list too", async () => {
    await records.save(
      {
        ...base,
        buildId: 101,
        status: "SUCCESS",
        finished: true,
        startedAt: Date.now() - 9000,
        finishedAt: Date.now() - 1000,
      },
      [],
    );
    const page = await chromium.context.newPage();
    const errors: string[] = [];
    page.on("pageerror", (err) => errors.push(err.message));
    await page.goto(`${url}/`);
    await page.waitForSelector('#builds tr[data-build-ref="101"]');
    const failedOnly = await chromium.context.newPage();
    await failedOnly.goto(`${url}/builds?status=FAILED`);
    await failedOnly.waitForSelector("body[data-loaded='true']");
    expect(await failedOnly.locator("#builds tbody tr").count()).toBe(0);
    const asked = listRequests.length;

    await records.save(
      { ...base, buildId: 102, status: "RUNNING", finished: false, startedAt: Date.now() },
      [],
    );
    const row = page.locator('#builds tr[data-build-ref="102"]');
    await row.waitFor();
    expect(
      await page
        .locator("#builds tbody tr")
        .evaluateAll((rows) => rows.map((r) => r.getAttribute("data-build-ref"))),
    ).toEqual(["102", "101"]);
    expect(await row.locator(".status").textContent()).toBe("running");
    expect(await row.locator(".branch").textContent()).toBe("main");

    // A reader on the new build's link by keyboard stays there while the list changes.
    await row.locator("a").focus();
    await records.save(
      {
        ...base,
        buildId: 102,
        status: "FAILED",
        finished: true,
        message: "tests failed",
        startedAt: Date.now() - 3000,
        finishedAt: Date.now(),
      },
      [],
    );
    await waitFor(async () => (await row.locator(".status").textContent()) === "failed", "the status change");
    expect(await row.locator(".message").textContent()).toBe("tests failed");
    expect(await page.evaluate<string | null>("document.activeElement?.textContent ?? null")).toBe("#102");
    await failedOnly.locator('#builds tr[data-build-ref="102"]').waitFor();
    await page.screenshot({ path: path.join(outputDir, "build-list-live.png") });

    // Each page opened one event stream and asked nothing more: the updates were pushed.
    expect(listRequests.slice(asked)).toEqual([]);
    expect(listRequests.every((u) => u.includes("follow=true"))).toBe(true);
    expect(errors).toEqual([]);
  });
});
