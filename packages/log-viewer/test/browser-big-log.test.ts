import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { haveChromium, openChromium, outputDir } from "./chromium-page.js";
import { BUILD_REF, LiveBuild, waitFor } from "./live-build.js";

// Past 20,000 lines the page draws a chunk only once it is needed (seen, searched, linked):
// what a reader gets must not differ. Timings are bench/big-log.ts's; here only behaviour.
const TOTAL = 30_000;

describe.skipIf(!haveChromium && !process.env.CI)("the build page in Chromium: a big log", () => {
  let chromium: Awaited<ReturnType<typeof openChromium>>;
  let build: LiveBuild;

  beforeAll(async () => {
    chromium = await openChromium();
    build = await LiveBuild.start();
    build.appendLines(1, 23_999);
    // Step 3 turns magenta and never resets: its lines in chunks drawn later are magenta too.
    build.store.appendLog(3, "\x1b[35mmagenta from here on"); // 24,000 (step 3)
    build.appendLines(24_001, TOTAL, (n) => (n === 27_000 ? "the purple needle" : `line ${n}`));
    for (const step of [1, 2, 3]) build.store.appendStatus(step, "SUCCESS");
    await build.finish("SUCCESS");
  }, 60_000);

  afterAll(async () => {
    await chromium?.close();
    await build?.stop();
  });

  it("finds, links and shows lines of chunks drawn late, with their step's colours", async () => {
    const page = await chromium.context.newPage();
    const errors: string[] = [];
    page.on("pageerror", (err) => errors.push(err.message));
    await page.goto(`${build.url}/builds/${BUILD_REF}`);
    await waitFor(async () => (await page.locator("body").getAttribute("data-ended")) === "true", "the end");
    expect(await page.locator("body").getAttribute("data-last-log-id")).toBe(String(TOTAL));
    expect(await page.locator("#log .line").count()).toBeLessThan(TOTAL);
    // The log was asked for once, by the head's preload: the script's fetch took that response
    // (a mismatch between the two would make the server send the whole log twice).
    const recordsRequests = await page.evaluate<string[]>(
      `performance.getEntriesByType("resource").filter((e) => e.name.includes("format=records")).map((e) => e.initiatorType)`,
    );
    expect(recordsRequests).toEqual(["link"]);

    await page.locator("#search").fill("purple needle");
    await waitFor(async () => (await page.locator("#search-count").textContent()) === "1 of 1", "the match");
    const needle = page.locator("#L27000");
    expect(await needle.isVisible()).toBe(true);
    expect(await needle.locator(".st").textContent()).toBe("test/unit");
    expect(await needle.locator(".msg span").getAttribute("style")).toBe("color:var(--ansi-5)");
    await page.screenshot({ path: path.join(outputDir, "log-viewer-big-log-search.png") });

    // A permalink into a part never drawn yet, and the end of a section scrolled to.
    const linked = await chromium.context.newPage();
    await linked.goto(`${build.url}/builds/${BUILD_REF}#L29998`);
    await linked.waitForSelector("#L29998.target");
    expect(await linked.locator("#L29998").isVisible()).toBe(true);
    await linked.locator("#step-3-title").click();
    await linked.locator("#log-pane").evaluate((el) => {
      el.scrollTop = el.scrollHeight;
    });
    await linked.waitForSelector("#L30000");
    expect(await linked.locator("#L30000 .msg").textContent()).toBe("line 30000");

    // A reader going through the whole log keeps only what is near the viewport in the DOM.
    for (const step of [1, 2]) await linked.locator(`#step-${step}-title`).click();
    let most = 0;
    for (let i = 0; i < 400; i++) {
      const done = await linked.locator("#log-pane").evaluate((el) => {
        el.scrollTop += el.clientHeight * 3;
        return el.scrollTop + el.clientHeight >= el.scrollHeight - 4;
      });
      await linked.evaluate("new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)))");
      most = Math.max(most, await linked.locator("#log .line").count());
      if (done) break;
    }
    expect(most).toBeGreaterThan(0);
    expect(most).toBeLessThan(6000);
    expect(errors).toEqual([]);
  }, 90_000);
});
