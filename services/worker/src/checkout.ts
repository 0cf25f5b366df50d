import { execFile } from "node:child_process";
import fs from "node:fs/promises";
import path from "node:path";
import { promisify } from "node:util";
import type { BuildSource } from "./options.js";

const run = promisify(execFile);

export class CheckoutError extends Error {
  override readonly name = "CheckoutError";
}

/**
 * Makes the build's source available as a directory: a given dir is used as is;
 * a git URL is cloned (shallow) into `<buildDir>/source`. A token is passed as an
 * HTTP header, never written into the URL, so it cannot end up in logs or .git/config;
 * and the header goes to git through its environment (GIT_CONFIG_COUNT, git ≥ 2.31), not
 * its command line, which every user of the host can read in `ps` while the clone runs.
 */
export async function checkoutSource(source: BuildSource, buildDir: string): Promise<string> {
  if (source.kind === "dir") {
    const stat = await fs.stat(source.dir).catch(() => null);
    if (!stat?.isDirectory()) throw new CheckoutError(`source directory ${source.dir} does not exist`);
    return source.dir;
  }
  const dest = path.join(buildDir, "source");
  await fs.rm(dest, { recursive: true, force: true });
  const args = ["-c", "credential.helper=", "clone", "--depth", "1", "--no-tags"];
  if (source.branch) args.push("--branch", source.branch);
  args.push("--", source.url, dest);
  const env: NodeJS.ProcessEnv = { ...process.env, GIT_TERMINAL_PROMPT: "0" };
  if (source.token) {
    const basic = Buffer.from(`oauth2:${source.token}`).toString("base64");
    const n = Number(env.GIT_CONFIG_COUNT) || 0;
    Object.assign(env, {
      GIT_CONFIG_COUNT: String(n + 1),
      [`GIT_CONFIG_KEY_${n}`]: "http.extraHeader",
      [`GIT_CONFIG_VALUE_${n}`]: `Authorization: Basic ${basic}`,
    });
  }
  try {
    await run("git", args, { timeout: 10 * 60_000, env });
  } catch (err) {
    const e = err as { stderr?: string; code?: number | string; killed?: boolean };
    const said =
      String(e.stderr ?? "").trim() || (e.killed ? "timed out" : `git exited with ${e.code ?? "an error"}`);
    const hint = source.token && (await gitIsOlderThan(2, 31)) ? `; ${OLD_GIT}` : "";
    // Not the error as cause: its `cmd` holds the URL as given, credentials and all.
    throw new CheckoutError(`git clone of ${redact(source.url)} failed: ${redact(said)}${hint}`);
  }
  return dest;
}

const OLD_GIT =
  "this host's git is older than 2.31, which ignores GIT_CONFIG_* and so cloned without the token (install git 2.31 or newer)";

/** Asked only once a clone with a token failed: the happy path runs no extra git. */
async function gitIsOlderThan(major: number, minor: number): Promise<boolean> {
  try {
    const m = /(\d+)\.(\d+)/.exec((await run("git", ["--version"])).stdout);
    return !!m && (Number(m[1]) < major || (Number(m[1]) === major && Number(m[2]) < minor));
  } catch {
    return false;
  }
}

/** Credentials in URLs (`https://user:pass@host/...`) hidden wherever they appear in `text`. */
function redact(text: string): string {
  return text.replace(/\/\/[^@/\s]*@/g, "//***@");
}
