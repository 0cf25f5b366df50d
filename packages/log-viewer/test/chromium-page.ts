import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { CHROMIUM_PATH, chromiumLaunchOptions } from "@wharf/testkit";
import { type BrowserContext, chromium, type Page } from "playwright-core";

/** Screenshots of the browser tests go here (the repository's test-output/). */
export const outputDir = path.resolve(import.meta.dirname, "../../../test-output");

export const haveChromium = fs.existsSync(CHROMIUM_PATH);
// Locally without Chromium the browser tests may skip (scripts/setup.sh installs it); in CI they must run.
if (!haveChromium && !process.env.CI) {
  console.warn(`log-viewer browser tests skipped: ${CHROMIUM_PATH} is missing (apt-get install -y chromium)`);
}

/** Debian's Chromium in a throwaway profile; `close` removes both. */
export async function openChromium(
  opts: { colorScheme?: "light" | "dark" } = {},
): Promise<{ context: BrowserContext; close(): Promise<void> }> {
  const userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), "wharf-chromium-"));
  const context = await chromium.launchPersistentContext(userDataDir, {
    ...chromiumLaunchOptions(),
    viewport: { width: 1200, height: 700 },
    ...(opts.colorScheme ? { colorScheme: opts.colorScheme } : {}),
  });
  return {
    context,
    async close() {
      await context.close();
      fs.rmSync(userDataDir, { recursive: true, force: true });
    },
  };
}

/** The log ids on the page, in id order (sections keep each step's lines together). */
export const pageIds = (page: Page) =>
  page.$$eval("#log .line", (lines) => lines.map((l) => Number(l.id.slice(1))).sort((a, b) => a - b));
