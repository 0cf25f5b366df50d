import { execFile } from "node:child_process";
import fs from "node:fs/promises";
import path from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);

// Never copied into a snapshot: other repositories' metadata and installed packages.
const skipped = new Set([".git", "node_modules", ".wharf"]);

/**
 * Commits the files of `dir` as they are now into a fresh git repository under
 * `snapshotsDir`, so a build sees exactly the working tree (uncommitted changes
 * included) and the worker clones it like any remote. Returns the repository path.
 */
export async function snapshotSource(dir: string, snapshotsDir: string): Promise<string> {
  const stat = await fs.stat(dir).catch(() => null);
  if (!stat?.isDirectory()) throw new Error(`${dir} is not a directory`);
  await fs.mkdir(snapshotsDir, { recursive: true });
  const repo = await fs.mkdtemp(path.join(snapshotsDir, `${path.basename(dir)}-`));
  await fs.cp(dir, repo, {
    recursive: true,
    filter: (src) => !skipped.has(path.basename(src)) || src === dir,
  });
  const git = (...args: string[]) =>
    run("git", ["-C", repo, "-c", "user.name=wharf", "-c", "user.email=wharf@localhost", ...args]);
  await git("init", "-q", "-b", "main");
  await git("add", "-A");
  await git("commit", "-q", "--allow-empty", "-m", `wharf build of ${dir}`);
  return repo;
}
