import fs from "node:fs/promises";
import path from "node:path";
import { assertWorkspaceGlobs, ExecutorError, resourceName } from "@wharf/executor";
import { glob } from "tinyglobby";

/** The directory on the host holding one build's workspace. */
export function workspaceDir(root: string, buildRef: string): string {
  return path.join(root, resourceName(buildRef));
}

/**
 * Replaces `dir` with the build's workspace from `sourceDir`: the directory itself, moved, when
 * the caller gave it away (`move`, BuildSpec.sourceDisposable) and both are on one filesystem;
 * else a copy (symlinks kept as links, modes kept). The move is one rename where copying a fresh
 * clone with its .git took 50–120 ms of every build's way to its first line (fs.cp walks and
 * copies file by file; measured in bench/trigger-latency.ts's builds).
 */
export async function copyWorkspace(
  sourceDir: string,
  dir: string,
  opts: { move?: boolean } = {},
): Promise<void> {
  const stat = await fs.stat(sourceDir).catch((err: unknown) => {
    throw new ExecutorError(`source directory ${sourceDir} cannot be read`, { cause: err });
  });
  if (!stat.isDirectory()) throw new ExecutorError(`source directory ${sourceDir} is not a directory`);
  await fs.rm(dir, { recursive: true, force: true });
  await fs.mkdir(path.dirname(dir), { recursive: true });
  if (opts.move) {
    try {
      await fs.rename(sourceDir, dir);
      return;
    } catch (err) {
      // Another filesystem (a CRI work root on its own mount): copied below like any source.
      if ((err as NodeJS.ErrnoException).code !== "EXDEV") throw err;
    }
  }
  await fs.cp(sourceDir, dir, { recursive: true, verbatimSymlinks: true, preserveTimestamps: true });
}

/**
 * Copies the regular files under `dir` matching `globs` into `destDir`, keeping relative
 * paths; returns them sorted. Hidden files match (`dot`); a directory matches only through
 * `dir/**`. Symlinks are skipped so an artifact can never copy a host file from outside
 * the workspace.
 */
export async function collectWorkspaceFiles(
  dir: string,
  globs: string[],
  destDir: string,
): Promise<string[]> {
  assertWorkspaceGlobs(globs);
  const matches = await glob(globs, {
    cwd: dir,
    onlyFiles: true,
    dot: true,
    expandDirectories: false,
    followSymbolicLinks: false,
  });
  const copied: string[] = [];
  for (const rel of matches.sort()) {
    const from = path.join(dir, rel);
    if (!(await fs.lstat(from)).isFile()) continue;
    const to = path.join(destDir, rel);
    await fs.mkdir(path.dirname(to), { recursive: true });
    await fs.copyFile(from, to);
    copied.push(rel);
  }
  return copied;
}
