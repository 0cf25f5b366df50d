import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { createLogger } from "@wharf/config";
import { CHROMIUM_PATH, chromiumLaunchOptions, waitFor } from "@wharf/testkit";
import { type BrowserContext, chromium, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type DevStack, snapshotSource, startDevStack } from "../src/index.js";

// The build page and the build list in Chromium, on a real build through the whole stack as
// `wharf up` runs it: dev sink → provisioner (local backend) → worker process → aggregator
// (PGlite) → dev sink; the pages are the aggregator's own.

const haveChromium = await fs.access(CHROMIUM_PATH).then(
  () => true,
  () => false,
);
const outputDir = path.resolve(import.meta.dirname, "../../../test-output");

// \`broken\` fails only once \`fast\` is done (bounded wait, 10 s) and its step had a second to be
// seen ended: a failed step stops its stage's others, and on a busy machine \`fast\` could otherwise
// still be starting, or exiting after its last command (exit 143 in a CI run), when that happens.
const PIPELINE = `test:
  fast:
    container:
      image: x
      cmds: ["sh progress.sh", "echo fast done", "touch fast.done"]
  broken:
    container:
      image: x
      cmds:
        - "i=0; while [ ! -f fast.done ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i+1)); done"
        - "sleep 1; echo about to fail >&2"
        - "exit 3"
      retries: 1
package:
  tarball:
    container:
      image: x
      cmds: ["echo packing"]
cleanup:
  run-if: always
  tidy:
    container:
      image: x
      cmds: ["echo cleaning up"]
`;
// A progress bar as curl or npm draw it: carriage returns, one newline at the end.
const PROGRESS = "printf '\\033[32mfetching  10%%\\r fetching  60%%\\r fetching 100%%\\033[0m\\n'\n";

describe.skipIf(!haveChromium && !process.env.CI)(
  "the build page and list on a real build (wharf up)",
  () => {
    let dataDir: string;
    let stack: DevStack;
    let context: BrowserContext;

    beforeAll(async () => {
      dataDir = await fs.mkdtemp(path.join(os.tmpdir(), "wharf-build-page-"));
      stack = await startDevStack(
        {
          dataDir,
          backend: "local",
          host: "127.0.0.1",
          sinkPort: 0,
          provisionerPort: 0,
          aggregatorPort: 0,
          env: { WHARF_DISCOVERY_INTERVAL: "200ms" },
        },
        createLogger("build-page-test", "silent"),
      );
      context = await chromium.launchPersistentContext(path.join(dataDir, "chromium"), {
        ...chromiumLaunchOptions(),
        viewport: { width: 1200, height: 700 },
      });
    }, 60_000);

    afterAll(async () => {
      await context?.close();
      await stack?.close();
      await fs.rm(dataDir, { recursive: true, force: true });
    }, 60_000);

    async function startBuild(): Promise<number> {
      const dir = path.join(dataDir, "project");
      await fs.mkdir(dir, { recursive: true });
      await fs.writeFile(path.join(dir, ".wharf-ci.yml"), PIPELINE);
      await fs.writeFile(path.join(dir, "progress.sh"), PROGRESS);
      const repo = await snapshotSource(dir, path.join(dataDir, "sources"));
      const res = await fetch(`${stack.sinkUrl}/api/dev/builds`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ gitUrl: repo, branch: "main", repoName: "project", inputs: {} }),
      });
      const body = (await res.json()) as { buildId: number };
      expect(res.status).toBeLessThan(300);
      return body.buildId;
    }

    const text = (page: Page, selector: string) => page.locator(selector).first().textContent();
    const stepRow = (page: Page, name: string) =>
      page.locator("#step-list li").filter({ has: page.locator(".step-name", { hasText: name }) });

    async function expectFinishedBuild(page: Page): Promise<void> {
      await waitFor("the step list", async () => (await page.locator("#step-list .step-name").count()) === 4);
      expect(await page.locator("#step-list .step-name").allTextContents()).toEqual([
        "test/fast",
        "test/broken",
        "package/tarball",
        "cleanup/tidy",
      ]);
      expect(await text(page, "#build-status")).toBe("failed");
      const broken = stepRow(page, "test/broken");
      await waitFor(
        "the broken step's exit code",
        async () => (await broken.locator(".exit-code").textContent()) === "exit 3",
      );
      expect(await broken.locator(".status").textContent()).toBe("failed");
      expect(await broken.locator(".attempt").textContent()).toBe("attempt 2");
      expect(await broken.locator(".duration").textContent()).toMatch(/^\d+s$/);
      expect(await stepRow(page, "test/fast").locator(".exit-code").textContent()).toBe("exit 0");
      // Skipped after the failed stage, as the engine records it.
      expect(await stepRow(page, "package/tarball").locator(".status").textContent()).toBe("cancelled");
      // Every line under its step's name; the failed step open, the one that succeeded folded.
      const failLine = page.locator(".line", { hasText: "about to fail" }).first();
      expect(await failLine.locator(".st").textContent()).toBe("test/broken");
      expect(await failLine.isVisible()).toBe(true);
      const progress = page.locator(".line.progress");
      expect(await progress.count()).toBe(1);
      expect(await progress.locator(".st").textContent()).toBe("test/fast");
      expect(await progress.locator(".msg").textContent()).toBe(" fetching 100%");
      expect(await progress.isVisible()).toBe(false);
    }

    it("lists the build live, shows its steps, and still does once the worker is released", async () => {
      const list = await context.newPage();
      await list.goto(`${stack.aggregatorUrl}/`);
      await list.waitForSelector("body[data-loaded='true']");
      const buildId = await startBuild();

      const page = await context.newPage();
      const errors: string[] = [];
      page.on("pageerror", (err) => errors.push(err.message));
      await page.goto(`${stack.aggregatorUrl}/builds/${buildId}`);
      await waitFor(
        "the build's end",
        async () => (await page.locator("body").getAttribute("data-ended")) === "true",
        90_000,
      );
      await expectFinishedBuild(page);
      // Search finds the failing line (once per attempt) and a permalink opens it.
      await page.locator("#search").fill("about to fail");
      expect(await text(page, "#search-count")).toBe("1 of 2");
      await page.screenshot({ path: path.join(outputDir, "build-page-real-build.png") });

      // The list saw the build appear and end without a reload; the filter keeps only its status.
      const row = list.locator(`#builds tr[data-build-ref="${buildId}"]`);
      // The status and the end time may reach the list in different polls (the end time comes
      // with the worker's last summary): wait until both are there.
      await waitFor(
        "the build listed as failed, with its duration",
        async () =>
          (await row.locator(".status").textContent()) === "failed" &&
          /^\d+s$/.test((await row.locator(".duration").textContent()) ?? ""),
      );
      expect(await row.locator(".branch").textContent()).toBe("main");
      await list.locator("#status-filter").selectOption("SUCCESS");
      await waitFor("the filter applied", async () => (await row.count()) === 0);
      await list.locator("#status-filter").selectOption("FAILED");
      await row.waitFor();
      expect(new URL(list.url()).search).toBe("?status=FAILED");
      await list.screenshot({ path: path.join(outputDir, "build-list.png") });
      await row.locator("a").click();
      await list.waitForURL(`${stack.aggregatorUrl}/builds/${buildId}`);

      // Once the aggregator released and removed the worker, the page reads wharf-api (the dev
      // sink) for the lines and the aggregator's step table for the steps.
      await waitFor(
        "the worker removed",
        async () => {
          const res = await fetch(`${stack.provisionerUrl}/api/worker?buildRef=${buildId}`);
          return ((await res.json()) as unknown[]).length === 0;
        },
        30_000,
      );
      const after = await context.newPage();
      await after.goto(`${stack.aggregatorUrl}/builds/${buildId}`);
      await waitFor(
        "the history's end",
        async () => (await after.locator("body").getAttribute("data-ended")) === "true",
      );
      await expectFinishedBuild(after);
      expect(await text(after, "#build-duration")).toMatch(/^\d+s$/);
      await after.screenshot({ path: path.join(outputDir, "build-page-after-release.png") });
      expect(errors).toEqual([]);
    }, 120_000);
  },
);
