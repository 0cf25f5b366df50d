import { createHash } from "node:crypto";
import { constants } from "node:os";

/**
 * The script a `container` step's shell runs: the cmds in order under `set -e`, so the
 * step stops at the first failing cmd like wharf-cmd does. One shell (not one per cmd)
 * keeps `cd`, variables and functions of earlier cmds visible to later ones. Every
 * executor runs exactly this, as `[shell, "-c", script]`.
 */
export function stepScript(cmds: string[]): string {
  return ["set -e", ...cmds].join("\n");
}

/** The shell's exit code for a process ended by `signal` (SIGKILL → 137), as shells and Docker report it. */
export function exitCodeForSignal(signal: NodeJS.Signals): number {
  return 128 + (constants.signals[signal] ?? 0);
}

/**
 * A name usable for a directory, a container, a volume or a pod from any build ref:
 * `[a-z0-9][a-z0-9_.-]*`, at most 40 characters. When anything had to be replaced, a short
 * hash of the original keeps two refs such as "a/b" and "a-b" apart.
 */
export function resourceName(text: string): string {
  const cleaned = text
    .toLowerCase()
    .replace(/[^a-z0-9_.-]+/g, "-")
    .replace(/^[^a-z0-9]+/, "")
    .slice(0, 32);
  if (cleaned === text && cleaned.length > 0) return cleaned;
  const hash = createHash("sha256").update(text).digest("hex").slice(0, 7);
  return cleaned ? `${cleaned}-${hash}` : `x-${hash}`;
}

/**
 * Checks artifact globs before any executor applies them: they are relative to the
 * workspace, so absolute paths and `..` segments (which would reach outside it) are refused.
 */
export function assertWorkspaceGlobs(globs: string[]): void {
  for (const glob of globs) {
    if (glob.trim() === "") throw new Error("empty artifact glob");
    if (glob.startsWith("/") || glob.split("/").includes(".."))
      throw new Error(`artifact glob "${glob}" must stay inside the workspace (no leading "/" or "..")`);
  }
}
