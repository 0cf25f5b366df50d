import path from "node:path";
import type { Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { haveChromium, openChromium, outputDir } from "./chromium-page.js";
import { BUILD_REF, LiveBuild, waitFor } from "./live-build.js";

const NEEDLES = [12, 777, 1500];

describe.skipIf(!haveChromium && !process.env.CI)(
  "the build page in Chromium: reading a finished log",
  () => {
    let chromium: Awaited<ReturnType<typeof openChromium>>;
    let build: LiveBuild;

    beforeAll(async () => {
      chromium = await openChromium();
      build = await LiveBuild.start();
      const s = build.store;
      s.appendLog(
        1,
        "\x1b[38;5;208morange\x1b[0m \x1b[38;2;10;200;30mtrue\x1b[0m \x1b[1mbold\x1b[0m \x1b[4munder\x1b[0m",
      ); // 1
      s.appendLog(1, "docs at https://example.com/x?a=1&b=2 now"); // 2
      // A progress bar: the step wrote carriage returns and one newline at the end.
      s.appendLog(2, "\x1b[32mdownloading  10%\r downloading  55%\r downloading 100%\r"); // 3
      build.appendLines(4, 2000, (n) => (NEEDLES.includes(n) ? `found the Needle ${n}` : `line ${n}`));
      for (const step of [1, 2, 3]) s.appendStatus(step, "SUCCESS");
      await build.finish("SUCCESS");
    });

    afterAll(async () => {
      await chromium?.close();
      await build?.stop();
    });

    async function open(): Promise<Page> {
      const page = await chromium.context.newPage();
      await page.goto(`${build.url}/builds/${BUILD_REF}`);
      await waitFor(
        async () => (await page.locator("body").getAttribute("data-ended")) === "true",
        "the end",
      );
      await page.waitForSelector("#L2000", { state: "attached" });
      return page;
    }

    it("renders colours like a terminal, links URLs and shows a progress bar as one line", async () => {
      const page = await open();
      // Succeeded steps are folded; the reader opens one.
      expect(await page.locator("#L1").isVisible()).toBe(false);
      await page.locator("#step-1-title").click();
      const spans = page.locator("#L1 .msg span");
      expect(await spans.nth(0).getAttribute("style")).toBe("color:rgb(255, 135, 0)");
      expect(await spans.nth(1).getAttribute("style")).toBe("color:rgb(10, 200, 30)");
      expect(await spans.nth(2).getAttribute("style")).toBe("font-weight:bold");
      expect(await spans.nth(3).getAttribute("style")).toBe("text-decoration:underline");
      const link = page.locator("#L2 .msg a");
      expect(await link.getAttribute("href")).toBe("https://example.com/x?a=1&b=2");
      expect(await link.getAttribute("rel")).toBe("noopener noreferrer");
      await page.locator("#step-2-title").click();
      expect(await page.locator("#L3 .msg").textContent()).toBe(" downloading 100%");
      expect(await page.locator("#L3").getAttribute("class")).toContain("progress");
      // The colour set before the first carriage return still holds.
      expect(await page.locator("#L3 .msg span").getAttribute("style")).toBe("color:var(--ansi-2)");
      await page.locator("#L3").screenshot({ path: path.join(outputDir, "log-viewer-progress-line.png") });
      await page.close();
    });

    it("searches folded sections, highlights matches and steps through them with keys", async () => {
      const page = await open();
      await page.keyboard.press("/");
      expect(await page.evaluate<string>("document.activeElement.id")).toBe("search");
      await page.keyboard.type("needle");
      const count = page.locator("#search-count");
      await waitFor(async () => (await count.textContent()) === "1 of 3", "the first match");
      // The match's section was folded; search opened it and scrolled the line into view.
      expect(await page.locator(`#L${NEEDLES[0]}`).isVisible()).toBe(true);
      expect(await page.locator(`#L${NEEDLES[0]}`).getAttribute("class")).toContain("match-current");
      // The test runs outside the page: its code goes in as a string (no DOM types here).
      const marked = () =>
        page.evaluate<string[]>("[...(CSS.highlights.get('search-current') ?? [])].map((r) => r.toString())");
      expect(await marked()).toEqual(["Needle"]);
      await page.keyboard.press("Enter");
      expect(await count.textContent()).toBe("2 of 3");
      expect(await page.locator(`#L${NEEDLES[1]}`).isVisible()).toBe(true);
      await page.keyboard.press("Shift+Enter");
      expect(await count.textContent()).toBe("1 of 3");
      // Outside the field, n and N do the same.
      await page.locator("#log-pane").focus();
      await page.keyboard.press("N");
      expect(await count.textContent()).toBe("3 of 3");
      await page.keyboard.press("n");
      expect(await count.textContent()).toBe("1 of 3");
      await page.screenshot({ path: path.join(outputDir, "log-viewer-search.png") });
      await page.locator("#search").fill("no such text");
      expect(await count.textContent()).toBe("no matches");
      await page.close();
    });

    it("shows timestamps as clock time or since the start, toggled with t", async () => {
      const page = await open();
      await page.locator("#step-1-title").click();
      expect(await page.locator("#L1 .ts").isVisible()).toBe(false);
      await page.keyboard.press("t");
      expect(await page.locator("body").getAttribute("data-timestamps")).toBe("clock");
      expect(await page.locator("#L1 .ts-abs").textContent()).toMatch(/^\d\d:\d\d:\d\d\.\d{3}$/);
      expect(await page.locator("#L1 .ts-abs").isVisible()).toBe(true);
      await page.keyboard.press("t");
      expect(await page.locator("#L1 .ts-rel").textContent()).toBe("+0:00.000");
      expect(await page.locator("#L1 .ts-rel").isVisible()).toBe(true);
      expect(await page.locator("#L1 .ts-abs").isVisible()).toBe(false);
      await page.keyboard.press("t");
      expect(await page.locator("body").getAttribute("data-timestamps")).toBe("off");
      await page.close();
    });

    it("has landmarks and follows the system's light or dark preference", async () => {
      const page = await open();
      expect(await page.getByRole("banner").count()).toBe(1);
      expect(await page.getByRole("main").count()).toBe(1);
      expect(await page.getByRole("navigation", { name: "Steps" }).count()).toBe(1);
      expect(await page.getByRole("search").count()).toBe(1);
      expect(await page.getByRole("log").count()).toBe(1);
      const background = (p: Page) => p.evaluate<string>("getComputedStyle(document.body).backgroundColor");
      await page.emulateMedia({ colorScheme: "light" });
      expect(await background(page)).toBe("rgb(255, 255, 255)");
      await page.screenshot({ path: path.join(outputDir, "log-viewer-light.png") });
      await page.emulateMedia({ colorScheme: "dark" });
      expect(await background(page)).toBe("rgb(22, 24, 29)");
      await page.screenshot({ path: path.join(outputDir, "log-viewer-dark.png") });
      await page.close();
    });

    it("keeps text at 4.5:1 contrast or more in both themes, terminal colours included", async () => {
      const page = await open();
      // WCAG 2 contrast of the theme's colour pairs, read from the page's own CSS (runs in Chromium).
      const lowContrast = () =>
        page.evaluate<string[]>(`(() => {
          const css = getComputedStyle(document.documentElement);
          const v = (name) => css.getPropertyValue(name).trim();
          const lum = (hex) => {
            const n = parseInt(hex.slice(1), 16);
            const c = [n >> 16, (n >> 8) & 255, n & 255].map((x) => x / 255).map((x) => (x <= 0.03928 ? x / 12.92 : ((x + 0.055) / 1.055) ** 2.4));
            return 0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2];
          };
          const ratio = (a, b) => { const [x, y] = [lum(a), lum(b)].sort((p, q) => q - p); return (x + 0.05) / (y + 0.05); };
          const pairs = [["--fg", "--bg"], ["--muted", "--bg"], ["--muted", "--panel"], ["--link", "--bg"], ["--fg", "--target"]];
          for (let i = 0; i < 16; i++) pairs.push(["--ansi-" + i, "--bg"]);
          for (const b of ["pending", "running", "success", "failed", "cancelled"]) pairs.push(["--badge-fg", "--badge-" + b]);
          return pairs.filter(([f, b]) => !(ratio(v(f), v(b)) >= 4.5)).map(([f, b]) => f + " on " + b + ": " + ratio(v(f), v(b)).toFixed(2));
        })()`);
      await page.emulateMedia({ colorScheme: "light" });
      expect(await lowContrast()).toEqual([]);
      await page.emulateMedia({ colorScheme: "dark" });
      expect(await lowContrast()).toEqual([]);
      await page.close();
    });

    it("is usable by keyboard: skip link, a focusable log, Tab from section to section", async () => {
      const page = await open();
      await page.keyboard.press("Tab");
      expect(await page.evaluate<string>("document.activeElement.className")).toBe("skip-link");
      await page.keyboard.press("Enter");
      expect(new URL(page.url()).hash).toBe("#log-pane");
      await page.locator("#log-pane").focus();
      expect(await page.evaluate<string>("document.activeElement.id")).toBe("log-pane");
      // The pane scrolls by keyboard once a section is open.
      await page.keyboard.press("Tab");
      expect(await page.evaluate<string>("document.activeElement.id")).toBe("step-1-title");
      await page.keyboard.press("Enter");
      expect(await page.locator("#step-1-title").getAttribute("aria-expanded")).toBe("true");
      // Tab skips the open section's line numbers: its raw download, the link a line printed,
      // then the next section.
      await page.keyboard.press("Tab");
      expect(await page.evaluate<string>("document.activeElement.className")).toBe("raw");
      await page.keyboard.press("Tab");
      expect(await page.evaluate<string>("document.activeElement.href")).toBe(
        "https://example.com/x?a=1&b=2",
      );
      await page.keyboard.press("Tab");
      expect(await page.evaluate<string>("document.activeElement.id")).toBe("step-2-title");
      await page.locator("#log-pane").focus();
      await page.keyboard.press("Home");
      await waitFor(
        async () => (await page.locator("#log-pane").evaluate((el) => el.scrollTop)) === 0,
        "the top",
      );
      const top = 0;
      await page.keyboard.press("PageDown");
      await waitFor(
        async () => (await page.locator("#log-pane").evaluate((el) => el.scrollTop)) > top,
        "scrolled",
      );
      // Shortcuts are announced to assistive technology.
      expect(await page.locator("#search").getAttribute("aria-keyshortcuts")).toBe("/");
      expect(await page.locator("#log").getAttribute("aria-live")).toBe("off");
      await page.close();
    });

    it("lets single-key shortcuts be turned off from the keys' help, for every visit (WCAG 2.1.4)", async () => {
      const page = await open();
      const timestamps = () => page.locator("body").getAttribute("data-timestamps");
      await page.locator("#keys-help summary").click();
      expect(await page.locator("#keys-help dl").textContent()).toContain("timestamps");
      await page.screenshot({ path: path.join(outputDir, "log-viewer-keys-help.png") });
      await page.locator("#shortcuts").uncheck();
      await page.locator("#log-pane").focus();
      await page.keyboard.press("t");
      await page.keyboard.press("/");
      expect(await timestamps()).toBe("off");
      expect(await page.evaluate<string>("document.activeElement.id")).toBe("log-pane");
      expect(await page.locator("#search").getAttribute("aria-keyshortcuts")).toBeNull();
      expect(await page.locator("#search").getAttribute("placeholder")).toBe("Search");
      await page.close();

      // Still off in the next visit; turned on again, the keys work again.
      const again = await open();
      expect(await again.locator("#shortcuts").isChecked()).toBe(false);
      await again.locator("#log-pane").focus();
      await again.keyboard.press("t");
      expect(await again.locator("body").getAttribute("data-timestamps")).toBe("off");
      await again.locator("#keys-help summary").click();
      await again.locator("#shortcuts").check();
      await again.locator("#log-pane").focus();
      await again.keyboard.press("t");
      expect(await again.locator("body").getAttribute("data-timestamps")).toBe("clock");
      expect(await again.locator("#search").getAttribute("aria-keyshortcuts")).toBe("/");
      await again.keyboard.press("t");
      await again.keyboard.press("t");
      expect(await again.locator("body").getAttribute("data-timestamps")).toBe("off");
      await again.close();
    });
  },
);
