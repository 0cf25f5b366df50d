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
 * HTTP header, never written into the URL, so it cannot end up in logs or .git/config.
 */
export async function checkoutSource(source: BuildSource, buildDir: string): Promise<string> {
  if (source.kind === "dir") {
    const stat = await fs.stat(source.dir).catch(() => null);
    if (!stat?.isDirectory()) throw new CheckoutError(`source directory ${source.dir} does not exist`);
    return source.dir;
  }
  const dest = path.join(buildDir, "source");
  await fs.rm(dest, { recursive: true, force: true });
  const args = ["-c", "credential.helper="];
  if (source.token) {
    const basic = Buffer.from(`oauth2:${source.token}`).toString("base64");
    args.push("-c", `http.extraHeader=Authorization: Basic ${basic}`);
  }
  args.push("clone", "--depth", "1", "--no-tags");
  if (source.branch) args.push("--branch", source.branch);
  args.push("--", source.url, dest);
  try {
    await run("git", args, { timeout: 10 * 60_000, env: { ...process.env, GIT_TERMINAL_PROMPT: "0" } });
  } catch (err) {
    const stderr = String((err as { stderr?: string }).stderr ?? "").trim();
    throw new CheckoutError(
      `git clone of ${redact(source.url)} failed: ${stderr || (err as Error).message}`,
      {
        cause: err,
      },
    );
  }
  return dest;
}

function redact(url: string): string {
  return url.replace(/\/\/[^@/]*@/, "//***@");
}
