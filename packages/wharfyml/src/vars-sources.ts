import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { homedir } from "node:os";
import path from "node:path";
import type { Diagnostic } from "./diagnostics.js";
import { DiagnosticList } from "./diagnostics.js";
import { describe, uniquePairs } from "./field-reader.js";
import type { VarSource } from "./variables.js";
import type { VarValue } from "./varsub.js";
import { parseYamlTree } from "./yaml-tree.js";

/**
 * The host side of variables: the environment, `.wharf-vars.yml` files and git facts.
 * Kept apart from the pure core (which takes `VarSource`s) so the core is testable
 * without a file system or a git checkout; every input here can be injected.
 */

export const varsFileName = ".wharf-vars.yml";

/** Build facts a worker knows from its trigger. */
export interface BuildFacts {
  ref?: string | number;
  projectId?: string | number;
}

/** `BUILD_REF` and the project id (as `WHARF_PROJECT_ID`, wharf-cmd's name, and `PROJECT_ID`). */
export function buildVarSource(build: BuildFacts): VarSource {
  const vars: Record<string, VarValue> = {};
  if (build.ref !== undefined) vars.BUILD_REF = build.ref;
  if (build.projectId !== undefined) {
    vars.WHARF_PROJECT_ID = build.projectId;
    vars.PROJECT_ID = build.projectId;
  }
  return { name: "build", vars };
}

/** `WHARF_VAR_NAME=value` environment variables as `NAME`. */
export function envVarSource(env: Readonly<Record<string, string | undefined>>): VarSource {
  const vars: Record<string, VarValue> = {};
  for (const [key, value] of Object.entries(env)) {
    if (key.startsWith("WHARF_VAR_") && key.length > "WHARF_VAR_".length && value !== undefined)
      vars[key.slice("WHARF_VAR_".length)] = value;
  }
  return { name: "env WHARF_VAR_*", vars };
}

/** Values of `WHARF_SECRET_*` environment variables, which must never be printed. */
export function envSecrets(env: Readonly<Record<string, string | undefined>>): string[] {
  return Object.entries(env)
    .filter(([key, value]) => key.startsWith("WHARF_SECRET_") && value)
    .map(([, value]) => value as string);
}

export interface VarsFileLocations {
  /** The pipeline's directory; `.wharf-vars.yml` is looked for here and in every parent. */
  dir: string;
  /** The user config dir (default `$XDG_CONFIG_HOME` or `~/.config`); null skips it. */
  userConfigDir?: string | null;
  /** Default `/etc`; null skips it. */
  etcDir?: string | null;
}

/** Candidate `.wharf-vars.yml` paths, highest priority first (wharf-cmd's locations). */
export function varsFilePaths(loc: VarsFileLocations): string[] {
  const paths: string[] = [];
  let dir = path.resolve(loc.dir);
  for (let i = 0; i < 256; i++) {
    paths.push(path.join(dir, varsFileName));
    const parent = path.dirname(dir);
    if (parent === dir) break;
    dir = parent;
  }
  const userDir = loc.userConfigDir === undefined ? defaultUserConfigDir() : loc.userConfigDir;
  if (userDir) paths.push(path.join(userDir, "iver-wharf", "wharf-cmd", "wharf-vars.yml"));
  const etc = loc.etcDir === undefined ? "/etc" : loc.etcDir;
  if (etc) paths.push(path.join(etc, "iver-wharf", "wharf-cmd", "wharf-vars.yml"));
  return paths;
}

function defaultUserConfigDir(): string {
  return process.env.XDG_CONFIG_HOME || path.join(homedir(), ".config");
}

/**
 * Parses a vars file (`vars: {NAME: value}`). Problems are warnings with the file set:
 * a broken file elsewhere on the machine should not stop a build, but must be visible.
 */
export function parseVarsFile(
  text: string,
  file: string,
): { source: VarSource | null; diagnostics: Diagnostic[] } {
  const diags = new DiagnosticList();
  const parsed = parseYamlTree(text);
  const warnAll = () => parsed.diagnostics.map((d) => ({ ...d, severity: "warning" as const, file }));
  if (!parsed.doc) return { source: null, diagnostics: warnAll() };
  const vars: Record<string, VarValue> = {};
  const root = parsed.doc;
  const varsNode =
    root.kind === "map" ? uniquePairs(root, "vars", diags).find((p) => p.key === "vars")?.value : undefined;
  if (varsNode?.kind !== "map") {
    diags.warning(
      varsNode?.pos ?? root.pos,
      "vars",
      "a vars file needs a top-level `vars:` map; file ignored",
    );
  } else {
    for (const pair of uniquePairs(varsNode, "vars", diags)) {
      if (pair.value.kind === "scalar") vars[pair.key] = pair.value.value;
      else
        diags.warning(
          pair.value.pos,
          "vars",
          `"${pair.key}" must be a string, number or boolean, got ${describe(pair.value)}`,
        );
    }
  }
  const diagnostics = [
    ...warnAll(),
    ...diags.items.map((d) => ({ ...d, severity: "warning" as const, file })),
  ];
  return { source: { name: file, vars }, diagnostics };
}

/** Reads the files that exist; `readFile` returns undefined for a missing file. */
export function readVarsFiles(
  paths: readonly string[],
  readFile: (file: string) => string | undefined = readTextIfExists,
): { sources: VarSource[]; diagnostics: Diagnostic[] } {
  const sources: VarSource[] = [];
  const diagnostics: Diagnostic[] = [];
  for (const file of paths) {
    let text: string | undefined;
    try {
      text = readFile(file);
    } catch (err) {
      diagnostics.push({
        line: 0,
        column: 0,
        scope: "vars",
        message: `cannot read: ${(err as Error).message}`,
        severity: "warning",
        file,
      });
      continue;
    }
    if (text === undefined) continue;
    const r = parseVarsFile(text, file);
    diagnostics.push(...r.diagnostics);
    if (r.source) sources.push(r.source);
  }
  return { sources, diagnostics };
}

function readTextIfExists(file: string): string | undefined {
  try {
    return readFileSync(file, "utf8");
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ENOENT" || code === "ENOTDIR") return undefined;
    throw err;
  }
}

/** GIT_* and REPO_* facts of the checkout in `dir`; empty when git or the repo is missing. */
export async function readGitFacts(dir: string): Promise<Record<string, string>> {
  const facts: Record<string, string> = {};
  // Two git processes at once where there were five (one per question): each is ~10 ms of CPU on
  // every build's way to its first line. The branch and the tags come from the commit's
  // decoration (%D: "HEAD -> main, origin/main, tag: v1"); git is asked again only when that
  // leaves a doubt (several tags: the newest is the build's) or names nothing (no remote).
  const [head, remote] = await Promise.all([
    // The decoration's style and refs named here: a developer's log.decorate=full or
    // log.excludeDecoration would otherwise change what %D says.
    git(dir, [
      "log",
      "-1",
      "--no-show-signature",
      "--decorate=short",
      "--decorate-refs=HEAD",
      "--decorate-refs=refs/heads/",
      "--decorate-refs=refs/tags/",
      "--format=%H%x00%s%x00%aI%x00%cI%x00%D",
    ]),
    git(dir, ["remote", "get-url", "origin"]),
  ]);
  if (head === undefined) return facts;
  const [hash = "", subject = "", authorDate = "", committerDate = "", decoration = ""] = head.split("\0");
  const refs = decoration.split(", ");
  // Detached (`HEAD, tag: v1`): no branch, as `rev-parse --abbrev-ref HEAD` says "HEAD".
  const branch = refs.find((r) => r.startsWith("HEAD -> "))?.slice("HEAD -> ".length);
  if (branch) {
    facts.GIT_BRANCH = branch;
    facts.REPO_BRANCH = branch;
    facts.GIT_SAFEBRANCH = branch.replaceAll("/", "-");
  }
  Object.assign(facts, {
    GIT_COMMIT: hash,
    GIT_COMMIT_SUBJECT: subject,
    GIT_COMMIT_AUTHOR_DATE: authorDate,
    GIT_COMMIT_COMMITTER_DATE: committerDate,
  });
  const tags = refs.filter((r) => r.startsWith("tag: ")).map((r) => r.slice("tag: ".length));
  facts.GIT_TAG =
    tags.length > 1
      ? ((await git(dir, ["tag", "--points-at", "HEAD", "--sort=-creatordate"]))?.split("\n")[0] ?? "")
      : (tags[0] ?? "");
  if (remote) Object.assign(facts, repoFromRemote(remote));
  // A repository without a remote (a fresh local one) is still named: after its folder.
  if (!facts.REPO_NAME) {
    const top = await git(dir, ["rev-parse", "--show-toplevel"]);
    if (top) facts.REPO_NAME = path.basename(top).toLowerCase();
  }
  return facts;
}

/** REPO_GROUP and REPO_NAME from a remote URL (`git@host:group/sub/name.git`, `https://host/group/name`). */
export function repoFromRemote(url: string): Record<string, string> {
  const pathPart = url
    .trim()
    .replace(/^[a-z+]+:\/\/[^/]+\//i, "")
    .replace(/^[^@/]+@[^:]+:/, "")
    .replace(/\.git\/?$/, "")
    .replace(/\/+$/, "");
  const parts = pathPart.split("/").filter((p) => p !== "");
  const name = parts.pop();
  if (!name) return {};
  return parts.length ? { REPO_NAME: name, REPO_GROUP: parts.join("/") } : { REPO_NAME: name };
}

export function gitVarSource(facts: Readonly<Record<string, string>>): VarSource {
  return { name: "git", vars: { ...facts } };
}

function git(dir: string, args: string[]): Promise<string | undefined> {
  return new Promise((resolve) => {
    execFile("git", ["-C", dir, ...args], { timeout: 5000, maxBuffer: 1 << 20 }, (err, stdout) => {
      resolve(err ? undefined : stdout.replace(/\n$/, ""));
    });
  });
}

export interface HostVarOptions extends VarsFileLocations {
  env?: Readonly<Record<string, string | undefined>>;
  build?: BuildFacts;
  /** Git facts to use instead of asking git (null: none). */
  git?: Readonly<Record<string, string>> | null;
  readFile?: (file: string) => string | undefined;
}

/**
 * All outside sources in Wharf's priority order (after the pipeline's own): build facts,
 * `WHARF_VAR_*`, `.wharf-vars.yml` files (nearest first, then user config, then /etc), git.
 */
export async function hostVarSources(
  opts: HostVarOptions,
): Promise<{ sources: VarSource[]; secrets: string[]; diagnostics: Diagnostic[] }> {
  const env = opts.env ?? process.env;
  const files = readVarsFiles(varsFilePaths(opts), opts.readFile);
  const facts = opts.git === undefined ? await readGitFacts(opts.dir) : (opts.git ?? {});
  return {
    sources: [buildVarSource(opts.build ?? {}), envVarSource(env), ...files.sources, gitVarSource(facts)],
    secrets: envSecrets(env),
    diagnostics: files.diagnostics,
  };
}
