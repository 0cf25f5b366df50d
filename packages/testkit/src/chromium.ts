/** Debian's Chromium (scripts/setup.sh installs it); tests and benchmarks drive it with playwright-core. */
export const CHROMIUM_PATH = "/usr/bin/chromium";

/**
 * Launch options for a headless Chromium on this kind of machine: no sandbox (tests run as root),
 * no GPU, and none of the background traffic a closed network refuses (component updates, sync).
 */
export function chromiumLaunchOptions(): { executablePath: string; headless: true; args: string[] } {
  return {
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-background-networking",
      "--disable-component-update",
      "--no-first-run",
      "--disable-sync",
    ],
  };
}
