import fs from "node:fs";
import path from "node:path";
import type { Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { haveChromium, openChromium, outputDir, pageIds } from "./chromium-page.js";
import { BUILD_REF, LiveBuild, range, waitFor } from "./live-build.js";

describe.skipIf(!haveChromium && !process.env.CI)("the build page in Chromium: following a build", () => {
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

  const stepRow = (page: Page, stepId: number, part: string) =>
    page.locator(`#step-list li[data-step-id="${stepId}"] .${part}`);

  it("shows lines live under their step's name, in order; a reload and a dropped connection lose nothing", async () => {
    const b = build;
    const page = await chromium.context.newPage();
    const errors: string[] = [];
    page.on("pageerror", (err) => errors.push(err.message));

    const t0 = Date.now() - 60_000;
    b.store.appendStatus(1, "RUNNING", t0);
    b.appendLines(1, 40);
    b.store.appendLog(1, "\x1b[31mERROR: something red\x1b[0m and plain"); // line 41
    await page.goto(`${b.url}/builds/${BUILD_REF}`);
    await page.waitForSelector("#L41");
    const red = page.locator("#L41 .msg span").first();
    expect(await red.textContent()).toBe("ERROR: something red");
    expect(await red.getAttribute("style")).toBe("color:var(--ansi-1)");
    expect(await page.locator("#L41 .msg").textContent()).toBe("ERROR: something red and plain");
    expect(await page.locator("#L41 .st").textContent()).toBe("build/compile");
    expect(await page.locator("#L3 .st").textContent()).toBe("test/unit");
    // The step list: names, status, and the running step's duration since it started.
    expect(await page.locator("#step-list .step-name").allTextContents()).toEqual([
      "build/compile",
      "build/lint",
      "test/unit",
    ]);
    expect(await stepRow(page, 1, "status").textContent()).toBe("running");
    expect(await stepRow(page, 1, "duration").textContent()).toMatch(/^1m \ds$/);
    // Each step's lines in its own section, in step order.
    expect(await page.locator("#log .step-section").evaluateAll((s) => s.map((x) => x.id))).toEqual([
      "step-1",
      "step-2",
      "step-3",
    ]);
    expect(await page.locator("#step-2 .line").evaluateAll((l) => l.map((x) => x.id))).toEqual(
      range(1, 40)
        .filter((n) => n % 3 === 2)
        .map((n) => `L${n}`),
    );

    // Lines written while the page is open appear without reloading.
    b.appendLines(42, 400);
    await page.waitForSelector("#L400");
    expect(await pageIds(page)).toEqual(range(1, 400));

    // The reader scrolled to the bottom follows; scrolling up pauses the following.
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

    // Steps end: the one that succeeded folds, the failed one stays open with its exit code.
    b.store.appendStatus(1, "SUCCESS", t0 + 83_000);
    b.store.recordStepResult(1, { exitCode: 0, attempts: 1 });
    b.store.appendStatus(2, "RUNNING", t0 + 1_000);
    b.store.recordStepResult(2, { exitCode: 3, attempts: 2 });
    b.store.appendStatus(2, "FAILED", t0 + 5_000);
    b.store.appendLog(2, "\x1b[1;33mwarning:\x1b[0m lint found 3 problems");
    await b.finish("FAILED");
    await waitFor(
      async () => (await page.locator("body").getAttribute("data-ended")) === "true",
      "the end event",
    );
    expect(await page.locator("#build-status").textContent()).toBe("failed");
    expect(await stepRow(page, 2, "status").textContent()).toBe("failed");
    await waitFor(async () => (await stepRow(page, 2, "exit-code").textContent()) === "exit 3", "exit code");
    expect(await stepRow(page, 2, "attempt").textContent()).toBe("attempt 2");
    expect(await stepRow(page, 2, "duration").textContent()).toBe("4s");
    expect(await stepRow(page, 1, "duration").textContent()).toBe("1m 23s");
    expect(await page.locator("#step-1").getAttribute("class")).toContain("folded");
    expect(await page.locator("#step-1-title").getAttribute("aria-expanded")).toBe("false");
    expect(await page.locator("#L1").isVisible()).toBe(false);
    expect(await page.locator("#step-2").getAttribute("class")).not.toContain("folded");
    expect(await page.locator("#L701").isVisible()).toBe(true);
    expect(await page.locator("#notice").textContent()).toBe("build failed");
    expect(await pageIds(page)).toEqual(range(1, 701));

    // Folding by hand wins over the automatic choice, both ways.
    await page.locator("#step-1-title").click();
    expect(await page.locator("#L1").isVisible()).toBe(true);
    await page.locator("#step-2-title").press("Enter");
    expect(await page.locator("#L701").isVisible()).toBe(false);
    await page.locator("#step-2-title").press("Enter");
    await page.screenshot({ path: path.join(outputDir, "log-viewer-finished.png") });

    // Raw downloads: the whole build, and one step.
    expect(await page.locator("#download").getAttribute("href")).toBe("../api/builds/42/logs?format=text");
    const raw = await page.locator("#step-2 .raw").getAttribute("href");
    const stepText = await (await fetch(new URL(raw ?? "", `${b.url}/builds/${BUILD_REF}`))).text();
    expect(stepText.trimEnd().split("\n").at(-1)).toBe("[build/lint] warning: lint found 3 problems");
    expect(stepText.split("\n").every((l) => l === "" || l.startsWith("[build/lint] "))).toBe(true);
    expect(errors).toEqual([]);
    await page.close();
  });

  it("opens a line permalink in its folded section and stays there", async () => {
    const page = await chromium.context.newPage();
    await page.goto(`${build.url}/builds/${BUILD_REF}#L40`);
    await page.waitForSelector("#L40.target");
    await page.waitForSelector("#L701", { state: "attached" });
    expect(await page.locator("#L40").isVisible()).toBe(true);
    expect(await page.locator("#step-1-title").getAttribute("aria-expanded")).toBe("true");
    await page.screenshot({ path: path.join(outputDir, "log-viewer-anchor.png") });
    await page.locator("#L43 .ln").click();
    expect(new URL(page.url()).hash).toBe("#L43");
    await page.close();
  });
});
