import { execFile } from "node:child_process";
import fs from "node:fs/promises";
import path from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);

/**
 * A git repository on `master` with `files` committed (paths relative to the repo,
 * contents as text or bytes), the way a project in wharf-api looks to the worker.
 * Returns its path, which serves as GIT_FULLURL: there is no network to clone from.
 */
export async function makeGitRepo(dir: string, files: Record<string, string | Buffer>): Promise<string> {
  for (const [name, content] of Object.entries(files)) {
    const file = path.join(dir, name);
    await fs.mkdir(path.dirname(file), { recursive: true });
    await fs.writeFile(file, content);
  }
  const git = (...args: string[]) =>
    run("git", ["-c", "user.name=wharf-test", "-c", "user.email=test@example.invalid", ...args], {
      cwd: dir,
      timeout: 30_000,
    });
  await git("init", "-q", "-b", "master");
  await git("add", ".");
  await git("commit", "-q", "-m", "pipeline");
  return dir;
}

/** A repository holding only `.wharf-ci.yml`: what most backend and provisioner tests build. */
export function makePipelineRepo(dir: string, wharfCiYml: string): Promise<string> {
  return makeGitRepo(dir, { ".wharf-ci.yml": wharfCiYml });
}
