import { execFile } from "node:child_process";
import fs from "node:fs/promises";
import path from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);

/**
 * A local git repository holding `.wharf-ci.yml` (committed on `master`), to
 * build without any network. Image names are the local busybox image: the
 * docker executor runs them, the local executor ignores them.
 */
export async function makeGitRepo(dir: string, wharfCiYml: string): Promise<string> {
  await fs.mkdir(dir, { recursive: true });
  await fs.writeFile(path.join(dir, ".wharf-ci.yml"), wharfCiYml);
  await fs.writeFile(path.join(dir, "README.md"), "test repo\n");
  const git = (...args: string[]) =>
    run("git", ["-c", "user.name=wharf", "-c", "user.email=wharf@example.invalid", ...args], { cwd: dir });
  await git("init", "-q", "-b", "master");
  await git("add", ".");
  await git("commit", "-q", "-m", "pipeline");
  return dir;
}

// What wharf-api's query string carries (VARS, ENVIRONMENT=dev) must be declared.
export const PIPELINE_HEADER = `inputs:
  - name: greeting
    type: string
    default: hello
  - name: count
    type: number
    default: 1
environments:
  dev:
    TARGET: dev.example.invalid
`;

/** Passes only if VARS and ENVIRONMENT reached the steps. */
export const PASSING_PIPELINE = `${PIPELINE_HEADER}
build:
  greet:
    container:
      image: wharf-test/busybox:latest
      cmds:
        - echo "\${greeting} x\${count} to \${TARGET}"
        - test "\${greeting}-\${count}-\${TARGET}" = "hi-3-dev.example.invalid"
`;

export const FAILING_PIPELINE = `${PIPELINE_HEADER}
build:
  fail:
    container:
      image: wharf-test/busybox:latest
      cmds:
        - echo "about to fail"
        - exit 3
`;

/** Keeps running (a step that sleeps) until the worker is stopped. */
export const SLEEPING_PIPELINE = `${PIPELINE_HEADER}
build:
  wait:
    container:
      image: wharf-test/busybox:latest
      cmds:
        - echo started
        - sleep 300
`;
