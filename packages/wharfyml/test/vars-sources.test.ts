import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  envSecrets,
  envVarSource,
  loadPipeline,
  parseVarsFile,
  readGitFacts,
  repoFromRemote,
  varsFilePaths,
} from "../src/index.js";

let root: string;
beforeAll(() => {
  root = mkdtempSync(path.join(tmpdir(), "wharfyml-vars-"));
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

const pipeline = [
  "inputs:",
  "  - {name: PW, type: password, default: pw-value}",
  "s:",
  "  a:",
  "    container:",
  "      image: ${IMAGE}",
  "      cmds: ['${FROM_FILE} ${FROM_PARENT} ${FROM_USER} ${FROM_ETC} ${GIT_BRANCH} ${REPO_NAME} ${BUILD_REF}']",
  "",
].join("\n");

function git(dir: string, ...args: string[]) {
  execFileSync("git", ["-C", dir, ...args], {
    env: {
      ...process.env,
      GIT_AUTHOR_NAME: "t",
      GIT_AUTHOR_EMAIL: "t@example.invalid",
      GIT_COMMITTER_NAME: "t",
      GIT_COMMITTER_EMAIL: "t@example.invalid",
      GIT_CONFIG_GLOBAL: "/dev/null",
      GIT_CONFIG_NOSYSTEM: "1",
    },
    stdio: "pipe",
  });
}

describe("host variable sources", () => {
  it("maps WHARF_VAR_* to variables and collects WHARF_SECRET_* values", () => {
    const env = {
      WHARF_VAR_REG_URL: "harbor.local",
      WHARF_VAR_: "x",
      PATH: "/bin",
      WHARF_SECRET_TOKEN: "t0k",
      WHARF_SECRET_EMPTY: "",
    };
    expect(envVarSource(env)).toEqual({ name: "env WHARF_VAR_*", vars: { REG_URL: "harbor.local" } });
    expect(envSecrets(env)).toEqual(["t0k"]);
  });

  it("lists .wharf-vars.yml locations nearest first, then the user config dir, then /etc", () => {
    expect(
      varsFilePaths({ dir: "/home/u/repos/app", userConfigDir: "/home/u/.config", etcDir: "/etc" }),
    ).toEqual([
      "/home/u/repos/app/.wharf-vars.yml",
      "/home/u/repos/.wharf-vars.yml",
      "/home/u/.wharf-vars.yml",
      "/home/.wharf-vars.yml",
      "/.wharf-vars.yml",
      "/home/u/.config/iver-wharf/wharf-cmd/wharf-vars.yml",
      "/etc/iver-wharf/wharf-cmd/wharf-vars.yml",
    ]);
  });

  it("parses vars files and reports problems as positioned warnings for that file", () => {
    expect(parseVarsFile("vars:\n  A: 1\n  B: text\n", "f.yml")).toEqual({
      source: { name: "f.yml", vars: { A: 1, B: "text" } },
      diagnostics: [],
    });
    const bad = parseVarsFile("vars:\n  A: [1]\n", "f.yml");
    expect(bad.diagnostics).toEqual([
      expect.objectContaining({ line: 2, column: 6, severity: "warning", file: "f.yml" }),
    ]);
    expect(parseVarsFile("vars: [\n", "g.yml").diagnostics[0]).toMatchObject({
      severity: "warning",
      file: "g.yml",
    });
    expect(parseVarsFile("other: 1\n", "h.yml").diagnostics[0]?.message).toMatch(
      /needs a top-level `vars:` map/,
    );
  });

  it("derives REPO_GROUP and REPO_NAME from remote URLs", () => {
    expect(repoFromRemote("git@github.com:iver-wharf/wharf-cmd.git")).toEqual({
      REPO_GROUP: "iver-wharf",
      REPO_NAME: "wharf-cmd",
    });
    expect(repoFromRemote("https://gitlab.local/group/sub/app")).toEqual({
      REPO_GROUP: "group/sub",
      REPO_NAME: "app",
    });
    expect(repoFromRemote("ssh://git@host:22/g/n.git")).toEqual({ REPO_GROUP: "g", REPO_NAME: "n" });
  });

  it("reads git facts from a real repository, and none outside one", async () => {
    const repo = path.join(root, "gitrepo");
    mkdirSync(repo);
    git(repo, "init", "-q", "-b", "feature/x");
    writeFileSync(path.join(repo, "f"), "1");
    git(repo, "add", "f");
    git(repo, "commit", "-q", "-m", "first commit");
    git(repo, "tag", "v1.2.3");
    git(repo, "remote", "add", "origin", "git@example.invalid:team/app.git");
    const facts = await readGitFacts(repo);
    expect(facts).toMatchObject({
      GIT_BRANCH: "feature/x",
      REPO_BRANCH: "feature/x",
      GIT_SAFEBRANCH: "feature-x",
      GIT_COMMIT_SUBJECT: "first commit",
      GIT_TAG: "v1.2.3",
      REPO_GROUP: "team",
      REPO_NAME: "app",
    });
    expect(facts.GIT_COMMIT).toMatch(/^[0-9a-f]{40}$/);
    expect(facts.GIT_COMMIT_AUTHOR_DATE).toMatch(/^\d{4}-\d\d-\d\dT/);
    expect(facts.GIT_COMMIT_COMMITTER_DATE).toMatch(/^\d{4}-\d\d-\d\dT/);
    const plain = path.join(root, "plain");
    mkdirSync(plain);
    expect(await readGitFacts(plain)).toEqual({});
  });

  it("takes the newest of several tags, no branch when detached, the folder's name without a remote", async () => {
    const repo = path.join(root, "Tagged");
    mkdirSync(repo);
    git(repo, "init", "-q", "-b", "main");
    writeFileSync(path.join(repo, "f"), "1");
    git(repo, "add", "f");
    git(repo, "commit", "-q", "-m", "one");
    // Annotated tags of one commit: the newest by creation date, not the first by name.
    for (const [name, date] of [
      ["a-old", "2001-01-01T00:00:00Z"],
      ["z-new", "2030-01-01T00:00:00Z"],
    ] as const)
      execFileSync("git", ["-C", repo, "tag", "-a", "-m", name, name], {
        env: {
          ...process.env,
          GIT_COMMITTER_NAME: "t",
          GIT_COMMITTER_EMAIL: "t@example.invalid",
          GIT_COMMITTER_DATE: date,
        },
      });
    // A developer's own decoration settings change nothing.
    git(repo, "config", "log.decorate", "full");
    git(repo, "config", "log.excludeDecoration", "refs/tags/");
    const facts = await readGitFacts(repo);
    expect(facts).toMatchObject({ GIT_BRANCH: "main", GIT_TAG: "z-new", REPO_NAME: "tagged" });
    expect(facts.REPO_GROUP).toBeUndefined();
    git(repo, "checkout", "-q", "--detach");
    const detached = await readGitFacts(repo);
    expect(detached.GIT_BRANCH).toBeUndefined();
    expect(detached.GIT_COMMIT).toBe(facts.GIT_COMMIT);
    const empty = path.join(root, "empty");
    mkdirSync(empty);
    git(empty, "init", "-q");
    expect(await readGitFacts(empty)).toEqual({});
  });
});

describe("loadPipeline", () => {
  it("reads dir/.wharf-ci.yml and merges files, env, build and git facts in priority order", async () => {
    const parent = path.join(root, "ws");
    const dir = path.join(parent, "app");
    const user = path.join(root, "user");
    const etc = path.join(root, "etc");
    mkdirSync(dir, { recursive: true });
    mkdirSync(path.join(user, "iver-wharf", "wharf-cmd"), { recursive: true });
    mkdirSync(path.join(etc, "iver-wharf", "wharf-cmd"), { recursive: true });
    writeFileSync(path.join(dir, ".wharf-ci.yml"), pipeline);
    writeFileSync(path.join(dir, ".wharf-vars.yml"), "vars:\n  FROM_FILE: near\n  IMAGE: from-file\n");
    writeFileSync(path.join(parent, ".wharf-vars.yml"), "vars:\n  FROM_FILE: far\n  FROM_PARENT: parent\n");
    writeFileSync(
      path.join(user, "iver-wharf", "wharf-cmd", "wharf-vars.yml"),
      "vars:\n  FROM_USER: user\n  FROM_PARENT: x\n",
    );
    writeFileSync(
      path.join(etc, "iver-wharf", "wharf-cmd", "wharf-vars.yml"),
      "vars:\n  FROM_ETC: etc\n  FROM_USER: x\n",
    );

    const r = await loadPipeline(dir, {
      env: { WHARF_VAR_IMAGE: "from-env", WHARF_SECRET_X: "hidden" },
      build: { ref: 42, projectId: 7 },
      userConfigDir: user,
      etcDir: etc,
      git: { GIT_BRANCH: "main", REPO_NAME: "app" },
    });
    expect(r.diagnostics).toEqual([]);
    expect(r.file).toBe(path.join(dir, ".wharf-ci.yml"));
    expect(r.plan?.stages[0]?.steps[0]?.spec).toMatchObject({
      image: "from-env",
      cmds: ["near parent user etc main app 42"],
    });
    expect(r.plan?.secrets).toEqual(["pw-value", "hidden"]);
    expect(r.variables.sourceOf("FROM_FILE")).toBe(path.join(dir, ".wharf-vars.yml"));
    expect(r.variables.sourceOf("BUILD_REF")).toBe("build");
    expect(r.variables.sourceOf("GIT_BRANCH")).toBe("git");
  });

  it("reports an unreadable file as a diagnostic instead of throwing", async () => {
    const r = await loadPipeline(path.join(root, "missing"), {
      git: null,
      userConfigDir: null,
      etcDir: null,
      env: {},
    });
    expect(r.plan).toBeNull();
    expect(r.diagnostics).toEqual([
      expect.objectContaining({ line: 0, scope: "file", message: expect.stringMatching(/ENOENT/) }),
    ]);
  });
});
