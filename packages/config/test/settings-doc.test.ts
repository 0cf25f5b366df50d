import { execFile } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";

const run = promisify(execFile);
const repo = path.resolve(import.meta.dirname, "../../..");
const read = (file: string) => fs.readFileSync(path.join(repo, file), "utf8");

function files(dir: string): string[] {
  return fs
    .readdirSync(path.join(repo, dir), { withFileTypes: true })
    .filter((e) => e.name !== "node_modules")
    .flatMap((e) => (e.isDirectory() ? files(path.join(dir, e.name)) : [path.join(dir, e.name)]));
}

/** The directories in `dir`, and with `depth` 2 theirs too: where packages' and services' READMEs are. */
function dirs(dir: string, depth = 1): string[] {
  const here = fs
    .readdirSync(path.join(repo, dir), { withFileTypes: true })
    .filter((e) => e.isDirectory() && e.name !== "node_modules")
    .map((e) => path.join(dir, e.name));
  return depth === 1 ? here : [...here, ...here.flatMap((d) => dirs(d, depth - 1))];
}

/** The docs an operator reads: the READMEs, the manifests, the chart, the Dockerfile. */
const OPERATOR_DOCS = ["README.md", ...files("deploy")];

/**
 * The docs a contributor reads: every package's README (by platform too: packages/docker/executor),
 * every service's, and docs' markdown but docs/settings.md, which is written from the declarations.
 */
const CONTRIBUTOR_DOCS = [
  ...[...dirs("packages", 2), ...dirs("services")].map((d) => path.join(d, "README.md")),
  ...fs
    .readdirSync(path.join(repo, "docs"))
    .filter((f) => f.endsWith(".md") && f !== "settings.md")
    .map((f) => path.join("docs", f)),
].filter((file) => fs.existsSync(path.join(repo, file)));

/**
 * Pipeline variables from the environment, not settings of a process: `WHARF_VAR_<NAME>` and
 * `WHARF_SECRET_<NAME>` (wharfyml's vars sources, which the check below finds reading them).
 */
const PIPELINE_VARIABLE_PREFIXES = ["WHARF_VAR_", "WHARF_SECRET_"];

/** Every `WHARF_*` name in `text`, braces expanded: `WHARF_K8S_{A,B}_IMAGE`; a trailing `*` kept. */
function wharfNames(text: string): string[] {
  return (text.match(/WHARF_[A-Z0-9_]*(?:\{[A-Z0-9_,]+\}[A-Z0-9_]*)*\*?/g) ?? []).flatMap(expandBraces);
}

function expandBraces(name: string): string[] {
  const m = /\{([A-Z0-9_,]+)\}/.exec(name);
  if (!m) return [name];
  return (m[1] as string).split(",").flatMap((alt) => expandBraces(name.replace(m[0], alt)));
}

// The reference of every setting is written from the declarations the processes read them with.
it("docs/settings.md is what the settings' declarations give", async () => {
  const { stderr } = await run(
    process.execPath,
    ["--import", "tsx", path.join(repo, "scripts/gen-settings-doc.mjs"), "--check"],
    { cwd: repo },
  ).catch((err: { stderr: string }) => ({ stderr: err.stderr }));
  expect(stderr).toBe("");
});

describe("the operator's and contributor's docs", () => {
  // docs/settings.md holds every declared setting and the worker env contract's keys.
  const declared = new Set(read("docs/settings.md").match(/(?<=`)[A-Z][A-Z0-9_]+(?=`)/g));
  // The test and build scripts' own variables (WHARF_KUBE_REAL, …) are read there.
  const harness = [...files("scripts"), ...files("test"), ...files("packages/testkit/src")]
    .map(read)
    .join("\n");
  const known = (name: string) =>
    name.endsWith("*")
      ? [...declared].some((d) => d.startsWith(name.slice(0, -1))) ||
        PIPELINE_VARIABLE_PREFIXES.includes(name.slice(0, -1))
      : declared.has(name) || new RegExp(`\\b${name}\\b`).test(harness);

  it.each(OPERATOR_DOCS)("%s names only WHARF_* variables that are declared", (file) => {
    expect(wharfNames(read(file)).filter((name) => !known(name))).toEqual([]);
  });

  // The step env (STEP_ENV) and the worker contract's keys are listed in docs/settings.md too.
  it.each(CONTRIBUTOR_DOCS)("%s names only WHARF_* variables that are declared", (file) => {
    expect(wharfNames(read(file)).filter((name) => !known(name))).toEqual([]);
  });

  it("include the packages' READMEs, by platform too", () => {
    expect(CONTRIBUTOR_DOCS).toContain("packages/engine/README.md");
    expect(CONTRIBUTOR_DOCS).toContain("packages/log-viewer/README.md");
  });

  it("link the settings reference where they discuss configuration", () => {
    expect(read("README.md")).toContain("docs/settings.md");
    expect(read("deploy/README.md")).toContain("../docs/settings.md");
  });

  it("name pipeline variable prefixes that are read", () => {
    const sources = files("packages/wharfyml/src").map(read).join("\n");
    for (const prefix of PIPELINE_VARIABLE_PREFIXES) expect(sources).toContain(`"${prefix}"`);
  });

  it("catch a name that does not exist", () => {
    expect(wharfNames("set `WHARF_K8S_{HELM,NOPE}_IMAGE` and WHARF_CRI_*").filter((n) => !known(n))).toEqual([
      "WHARF_K8S_NOPE_IMAGE",
    ]);
    expect(known("WHARF_NOPE_*")).toBe(false);
  });
});
