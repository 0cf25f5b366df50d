import { execFileSync } from "node:child_process";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { checkoutSource } from "../src/checkout.js";

const TOKEN = "glpat-checkout-test-token";
let root: string;
let repo: string;
let seen: string;
const savedPath = process.env.PATH;

beforeAll(async () => {
  root = await fs.mkdtemp(path.join(os.tmpdir(), "wharf-checkout-"));
  repo = path.join(root, "repo");
  await fs.mkdir(repo);
  const env = {
    ...process.env,
    GIT_AUTHOR_NAME: "t",
    GIT_AUTHOR_EMAIL: "t@example.invalid",
    GIT_COMMITTER_NAME: "t",
    GIT_COMMITTER_EMAIL: "t@example.invalid",
  };
  const git = (...args: string[]) => execFileSync("git", ["-C", repo, ...args], { env });
  git("init", "-q", "-b", "main");
  await fs.writeFile(path.join(repo, "f.txt"), "hello\n");
  git("add", "f.txt");
  git("commit", "-q", "-m", "one");
  // A `git` first on PATH that writes down how it was called (its argv, its GIT_CONFIG_*) and
  // hands over to the real one: what `ps` and /proc/<pid>/cmdline show other users of the host.
  const bin = path.join(root, "bin");
  seen = path.join(root, "seen.txt");
  await fs.mkdir(bin);
  const realGit = execFileSync("sh", ["-c", "command -v git"], { encoding: "utf8" }).trim();
  await fs.writeFile(
    path.join(bin, "git"),
    `#!/bin/sh\nprintf 'argv: %s\\n' "$*" >> ${seen}\nenv | grep '^GIT_CONFIG_' >> ${seen}\nexec ${realGit} "$@"\n`,
    { mode: 0o755 },
  );
  process.env.PATH = `${bin}:${savedPath}`;
});

afterAll(async () => {
  process.env.PATH = savedPath;
  await fs.rm(root, { recursive: true, force: true });
});

describe("checkoutSource", () => {
  it("clones the branch with the token as an HTTP header in git's environment, never in its command line", async () => {
    const buildDir = path.join(root, "build");
    const dir = await checkoutSource(
      { kind: "git", url: `file://${repo}`, branch: "main", token: TOKEN },
      buildDir,
    );
    expect(await fs.readFile(path.join(dir, "f.txt"), "utf8")).toBe("hello\n");
    const calls = await fs.readFile(seen, "utf8");
    const basic = Buffer.from(`oauth2:${TOKEN}`).toString("base64");
    const argv = calls.split("\n").filter((l) => l.startsWith("argv: "));
    expect(argv.length).toBeGreaterThan(0);
    expect(argv.join("\n")).not.toContain(basic);
    expect(argv.join("\n")).not.toContain("extraHeader");
    expect(calls).toContain("GIT_CONFIG_KEY_0=http.extraHeader");
    expect(calls).toContain(`GIT_CONFIG_VALUE_0=Authorization: Basic ${basic}`);
    // Nothing of the token stays in the checkout's config.
    expect(await fs.readFile(path.join(dir, ".git/config"), "utf8")).not.toContain(basic);
  });

  it("names a failed clone without the credentials of its URL", async () => {
    const err: Error = await checkoutSource(
      { kind: "git", url: `file://user:hunter2@${root}/missing` },
      path.join(root, "build-creds"),
    ).then(
      () => new Error("cloned"),
      (e: unknown) => e as Error,
    );
    expect(err.message).toMatch(/git clone of file:\/\/\*\*\*@.*missing failed/);
    expect(err.message).not.toContain("hunter2");
    expect(JSON.stringify(err)).not.toContain("hunter2");
    expect(err.cause).toBeUndefined();
  });

  it("names a failed clone without the token", async () => {
    await expect(
      checkoutSource(
        { kind: "git", url: `file://${root}/missing`, token: TOKEN },
        path.join(root, "build-missing"),
      ),
    ).rejects.toThrow(/git clone of file:\/\/.*missing failed/);
  });
});
