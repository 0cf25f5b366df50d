import path from "node:path";
import { fileURLToPath } from "node:url";

// Set by `pnpm build` (esbuild `define`); absent when the sources run in-process (vitest).
declare const __WHARF_VERSION__: string | undefined;
declare const __WHARF_REVISION__: string | undefined;

/** The release of this program (root package.json), and the git revision it was built from. */
export const buildInfo = {
  version: typeof __WHARF_VERSION__ === "string" ? __WHARF_VERSION__ : "0.0.0-source",
  revision: typeof __WHARF_REVISION__ === "string" ? __WHARF_REVISION__ : "source",
} as const;

/** `wharf 0.1.0 (rev 1a2b3c4d5e6f)`: what `wharf --version` prints and every service logs at start. */
export function versionLine(): string {
  return `wharf ${buildInfo.version} (rev ${buildInfo.revision})`;
}

let entry: string | undefined;

/** Called by the compiled `wharf` entry with its own path, so child processes run the same program. */
export function markWharfEntry(file: string): void {
  entry = file;
}

/**
 * The command that starts this wharf program again: `node --enable-source-maps <entry>`.
 * Inside the compiled CLI that is its own entry; when the sources run in-process (tests),
 * the compiled CLI of this checkout, which `pnpm build` (and the test setup) writes.
 */
export function wharfCommand(nodeBinary = process.execPath): string[] {
  const file =
    entry ?? path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../cli/dist/wharf.mjs");
  return [nodeBinary, "--enable-source-maps", file];
}
