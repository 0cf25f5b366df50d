import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { CHROMIUM_PATH, chromiumLaunchOptions } from "@wharf/testkit";
import { type BrowserContext, chromium, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BUILD_REF, LiveBuild, range, waitFor } from "./live-build.js";

const outputDir = path.resolve(import.meta.dirname, "../../../test-output");
const haveChromium = fs.existsSync(CHROMIUM_PATH);
// Locally without Chromium this file may skip (scripts/setup.sh installs it); in CI it must run.
if (!haveChromium && !process.env.CI) {
  console.warn(`log-viewer browser test skipped: ${CHROMIUM_PATH} is missing (apt-get install -y chromium)`);
}

/** The log ids on the page, in document order. */
const pageIds = (page: Page) => page.$$eval("#log .line", (lines) => lines.map((l) => Number(l.id.slice(1))));

describe.skipIf(!haveChromium && !process.env.CI)("the build page in Chromium", () => {
  let context: BrowserContext;
  let userDataDir: string;
  let build: LiveBuild;

  beforeAll(async () => {
    userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), "wharf-chromium-"));
    context = await chromium.launchPersistentContext(userDataDir, {
      ...chromiumLaunchOptions(),
      viewport: { width: 1200, height: 700 },
    });
    build = await LiveBuild.start();
  });

  afterAll(async () => {
    await context?.close();
    await build?.stop();
    fs.rmSync(userDataDir, { recursive: true, force: true });
  });

  it("shows lines live, in order and coloured; a reload and a dropped connection lose nothing", async () => {
    const b = build;
    const page = await context.newPage();
    const errors: string[] = [];
    page.on("pageerror", (err) => errors.push(err.message));

    b.store.appendStatus(1, "RUNNING");
    b.appendLines(1, 40);
    b.store.appendLog(1, "\x1b[31mERROR: something red\x1b[0m and plain"); // line 41
    await page.goto(`${b.url}/builds/${BUILD_REF}`);
    await page.waitForSelector("#L41");
    const red = page.locator("#L41 .msg span").first();
    expect(await red.textContent()).toBe("ERROR: something red");
    expect(await red.getAttribute("style")).toMatch(/color:\s*rgb\(187,\s*0,\s*0\)/);
    expect(await page.locator("#L41 .msg").textContent()).toBe("ERROR: something red and plain");
    expect(await page.locator("#L41 .st").textContent()).toBe("build/compile");
    expect(await page.locator('#step-list li[data-step-id="1"] .status').textContent()).toBe("running");

    // Lines written while the page is open appear without reloading, in order.
    b.appendLines(42, 400);
    await page.waitForSelector("#L400");
    expect(await pageIds(page)).toEqual(range(1, 400));

    // The reader scrolled to the bottom follows; scrolling up stops the following.
    const pane = page.locator("#log-pane");
    const atBottom = () => pane.evaluate((el) => el.scrollHeight - el.scrollTop - el.clientHeight < 4);
    expect(await atBottom()).toBe(true);
    await pane.evaluate((el) => {
      el.scrollTop = 0;
    });
    b.appendLines(401, 450);
    await page.waitForSelector("#L450");
    expect(await pane.evaluate((el) => el.scrollTop)).toBe(0);
    expect(await page.locator("#jump").isVisible()).toBe(true);
    await page.locator("#jump").click();
    b.appendLines(451, 460);
    await page.waitForSelector("#L460");
    await waitFor(atBottom, "the pane following again");

    // The network drops: EventSource reconnects with Last-Event-ID and continues exactly.
    b.app.server.closeAllConnections();
    b.appendLines(461, 600);
    await page.waitForSelector("#L600", { timeout: 15_000 });
    expect(await pageIds(page)).toEqual(range(1, 600));

    // A reload starts over from line 1 while the build goes on.
    await page.reload();
    b.appendLines(601, 700);
    await page.waitForSelector("#L700", { timeout: 15_000 });
    expect(await pageIds(page)).toEqual(range(1, 700));
    expect(await page.locator("body").getAttribute("data-skipped")).toBe("0");

    fs.mkdirSync(outputDir, { recursive: true });
    await page.screenshot({ path: path.join(outputDir, "log-viewer-running.png") });

    b.store.appendStatus(1, "SUCCESS");
    b.store.appendStatus(2, "FAILED");
    b.store.appendLog(2, "\x1b[1;33mwarning:\x1b[0m lint found 3 problems");
    await b.finish("FAILED");
    await waitFor(
      async () => (await page.locator("body").getAttribute("data-ended")) === "true",
      "the end event",
    );
    expect(await page.locator("#build-status").textContent()).toBe("failed");
    expect(await page.locator('#step-list li[data-step-id="2"] .status').textContent()).toBe("failed");
    expect(await page.locator("#notice").textContent()).toBe("build failed");
    expect(await pageIds(page)).toEqual(range(1, 701));
    expect(await page.locator("#download").getAttribute("href")).toBe("../api/builds/42/logs?format=text");
    await page.screenshot({ path: path.join(outputDir, "log-viewer-finished.png") });
    expect(errors).toEqual([]);
    await page.close();
  });

  it("jumps to a line anchor and does not scroll away from it", async () => {
    const page = await context.newPage();
    await page.goto(`${build.url}/builds/${BUILD_REF}#L41`);
    await page.waitForSelector("#L41.target");
    await page.waitForSelector("#L701");
    expect(await page.locator("#L41").isVisible()).toBe(true);
    expect(await page.locator("#L41 .msg span").first().getAttribute("style")).toMatch(/color/);
    await page.screenshot({ path: path.join(outputDir, "log-viewer-anchor.png") });
    await page.locator("#L45 .ln").click();
    expect(new URL(page.url()).hash).toBe("#L45");
    await page.close();
  });
});
