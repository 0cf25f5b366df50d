import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { haveChromium, openChromium, outputDir } from "./chromium-page.js";
import { BUILD_REF, LiveBuild, waitFor } from "./live-build.js";

describe.skipIf(!haveChromium && !process.env.CI)("the build page in Chromium: a live progress bar", () => {
  let chromium: Awaited<ReturnType<typeof openChromium>>;
  let build: LiveBuild;

  beforeAll(async () => {
    chromium = await openChromium();
    build = await LiveBuild.start();
  });

  afterAll(async () => {
    await chromium?.close();
    await build?.stop();
  });

  it("updates a line redrawn by carriage returns before its newline, then shows the finished line", async () => {
    const b = build;
    const page = await chromium.context.newPage();
    const errors: string[] = [];
    page.on("pageerror", (err) => errors.push(err.message));
    b.store.appendStatus(2, "RUNNING");
    b.store.appendLog(2, "pulling the image");
    await page.goto(`${b.url}/builds/${BUILD_REF}`);
    await page.waitForSelector("#L1");

    const live = page.locator("#P2");
    const liveText = () => live.locator(".msg").textContent();
    b.store.setProgress(2, "\x1b[32mdownloading  10%\r");
    await waitFor(async () => (await live.isVisible()) && (await liveText()) === "downloading  10%", "10%");
    expect(await live.locator(".st").textContent()).toBe("build/lint");
    expect(await live.locator(".msg span").getAttribute("style")).toBe("color:var(--ansi-2)");
    b.store.setProgress(2, "\x1b[32mdownloading  10%\rdownloading  55%");
    await waitFor(async () => (await liveText()) === "downloading  55%", "55%");
    await live.screenshot({ path: path.join(outputDir, "log-viewer-live-progress.png") });
    // Below the step's last line, whatever else the build prints meanwhile.
    b.store.appendLog(1, "another step goes on");
    await page.waitForSelector("#L2");
    expect(await live.isVisible()).toBe(true);

    b.store.appendLog(2, "\x1b[32mdownloading  10%\rdownloading  55%\rdownloading 100%\r");
    await page.waitForSelector("#L3");
    expect(await page.locator("#L3 .msg").textContent()).toBe("downloading 100%");
    await waitFor(async () => !(await live.isVisible()), "the live line gone");
    expect(await page.locator("#step-2 .line").count()).toBe(2);
    expect(errors).toEqual([]);
    await page.close();
  });

  it("shows a progress line that was already there when the page opened", async () => {
    build.store.setProgress(3, "compiling 3/10\r");
    const page = await chromium.context.newPage();
    await page.goto(`${build.url}/builds/${BUILD_REF}`);
    await waitFor(async () => (await page.locator("#P3 .msg").textContent()) === "compiling 3/10", "3/10");
    await page.close();
  });
});
