import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { wharfArgs } from "@wharf/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const repoRoot = path.resolve(fileURLToPath(import.meta.url), "../../../..");

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `wharf` as a real child process; pnpm's INIT_CWD is dropped so cwd decides paths. */
function wharf(args: string[], cwd = repoRoot, extraEnv: Record<string, string> = {}): Promise<Run> {
  const env: NodeJS.ProcessEnv = { ...process.env, ...extraEnv };
  delete env.INIT_CWD;
  delete env.npm_lifecycle_event;
  for (const key of Object.keys(env)) if (key.startsWith("WHARF_")) delete env[key];
  Object.assign(env, extraEnv);
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, wharfArgs(args), { cwd, env });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => {
      stdout += d;
    });
    child.stderr.on("data", (d) => {
      stderr += d;
    });
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), "wharf-cli-"));
  writeFileSync(
    path.join(dir, ".wharf-ci.yml"),
    [
      "inputs:",
      "  - {name: TOKEN, type: password, default: sup3rsecret}",
      "  - {name: N, type: number, default: 1}",
      "environments:",
      "  prod: {HOST: prod.local}",
      "build:",
      "  hi:",
      "    container:",
      "      image: busybox",
      "      cmds: ['echo ${TOKEN} ${HOST} ${FROM_ENV}']",
      "      retries: ${N}",
      "deploy:",
      "  environments: [prod]",
      "  up:",
      "    kubectl: {file: k8s.yml}",
      "",
    ].join("\n"),
  );
  writeFileSync(path.join(dir, "warn.yml"), "s:\n  a:\n    container: {image: x, cmds: [y], colour: red}\n");
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("wharf lint", () => {
  it("exits 0 on the hello example, by file and by directory", async () => {
    const byFile = await wharf(["lint", "examples/hello/.wharf-ci.yml"]);
    expect(byFile).toMatchObject({ code: 0, stdout: "" });
    expect((await wharf(["lint"], path.join(repoRoot, "examples/hello"))).code).toBe(0);
  });

  it("exits 1 on the invalid example with one positioned line per problem, sorted", async () => {
    const r = await wharf(["lint", "examples/invalid"]);
    expect(r.code).toBe(1);
    const lines = r.stdout.trim().split("\n");
    expect(lines.length).toBeGreaterThanOrEqual(8);
    for (const line of lines) expect(line).toMatch(/^\d+:\d+ [^ ]+: .+/);
    const positions = lines.map((l) => l.split(" ")[0]!.split(":").map(Number) as [number, number]);
    const sorted = [...positions].sort((a, b) => a[0] - b[0] || a[1] - b[1]);
    expect(positions).toEqual(sorted);
    expect(r.stdout).toContain('20:7 build/compile/container: warning: unknown field "cmd"');
    expect(r.stdout).toContain('32:18 deploy: undefined environment "staging" (defined: dev)');
  });

  it("prints JSON with --json", async () => {
    const r = await wharf(["lint", "examples/invalid", "--json"]);
    expect(r.code).toBe(1);
    const json = JSON.parse(r.stdout) as { errors: Record<string, unknown>[] };
    expect(json.errors[0]).toEqual({
      line: 7,
      column: 14,
      scope: "inputs/LEVEL",
      message: 'default "medium" is not one of the values (low, high)',
      severity: "error",
    });
    expect(JSON.parse((await wharf(["lint", "examples/hello", "--json"])).stdout)).toEqual({ errors: [] });
  });

  it("exits 0 with warnings only, and marks them", async () => {
    const r = await wharf(["lint", path.join(dir, "warn.yml")]);
    expect(r).toMatchObject({ code: 0, stdout: '3:38 s/a/container: warning: unknown field "colour"\n' });
  });

  it("exits 1 with a clear message for a missing file", async () => {
    const r = await wharf(["lint", "no/such/dir"]);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/^0:0 file: cannot read .*no\/such\/dir.*: ENOENT/);
  });
});

describe("wharf plan", () => {
  it("prints the resolved plan as JSON, masking secrets", async () => {
    const r = await wharf(["plan", dir, "-e", "prod", "-i", "N=3", "--json"], repoRoot, {
      WHARF_VAR_FROM_ENV: "env-value",
    });
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({
      environment: "prod",
      stages: [
        {
          name: "build",
          runIf: "success",
          steps: [
            {
              id: 1,
              name: "hi",
              type: "container",
              spec: {
                image: "busybox",
                cmds: ["echo *** prod.local env-value"],
                shell: "/bin/sh",
                os: "linux",
              },
              retries: 3,
            },
          ],
        },
        {
          name: "deploy",
          runIf: "success",
          steps: [
            {
              id: 2,
              name: "up",
              type: "kubectl",
              spec: { files: ["k8s.yml"], action: "apply", force: false },
              retries: 0,
            },
          ],
        },
      ],
    });
    expect(r.stdout).not.toContain("sup3rsecret");
  });

  it("filters by stage and prints text", async () => {
    const r = await wharf(["plan", ".", "-s", "build"], dir);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("stage build (run-if: success)");
    expect(r.stdout).toContain("1. hi [container]");
    expect(r.stdout).not.toContain("deploy");
  });

  it("exits 1 on an unknown environment or a bad input value", async () => {
    const env = await wharf(["plan", dir, "-e", "staging"]);
    expect(env.code).toBe(1);
    expect(env.stderr).toContain('0:0 options: unknown environment "staging" (defined: prod)');
    const input = await wharf(["plan", dir, "-i", "N=lots", "--json"]);
    expect(input.code).toBe(1);
    expect(JSON.parse(input.stdout).errors[0].message).toBe('input "N" must be a number, got "lots"');
  });
});

describe("wharf vars", () => {
  it("lists variables with their winning source", async () => {
    const r = await wharf(["vars", dir, "-e", "prod", "--json"], repoRoot, {
      WHARF_VAR_FROM_ENV: "x",
      WHARF_VAR_N: "9",
    });
    expect(r.code).toBe(0);
    const vars = JSON.parse(r.stdout) as {
      name: string;
      value: unknown;
      source: string;
      shadowed: { source: string }[];
    }[];
    const byName = Object.fromEntries(vars.map((v) => [v.name, v]));
    expect(byName.HOST).toMatchObject({ value: "prod.local", source: "environment prod" });
    expect(byName.FROM_ENV).toMatchObject({ value: "x", source: "env WHARF_VAR_*" });
    expect(byName.N).toMatchObject({
      value: 1,
      source: "input default",
      shadowed: [{ source: "env WHARF_VAR_*" }],
    });
    expect(byName.TOKEN).toMatchObject({ value: "***" });
  });
});

describe("usage errors", () => {
  it.each([
    [["frob"], "unknown command"],
    [["lint", "a", "b"], "too many arguments"],
    [["plan", "-i", "novalue"], "expected key=value"],
    [["plan", "--nope"], "unknown option"],
    [[], "Usage: wharf"],
  ])("wharf %j exits 2 with a short help", async (args, text) => {
    const r = await wharf(args);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(text);
  });

  it("--help exits 0", async () => {
    const r = await wharf(["plan", "--help"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("Usage: wharf plan");
  });
});

describe("bin/wharf.mjs and pnpm wharf", () => {
  it("runs through the bin script", async () => {
    const r = await new Promise<Run>((resolve, reject) => {
      const child = spawn(
        process.execPath,
        [path.join(repoRoot, "packages/cli/bin/wharf.mjs"), "lint", "examples/invalid"],
        {
          cwd: repoRoot,
        },
      );
      let stdout = "";
      child.stdout.on("data", (d) => {
        stdout += d;
      });
      child.on("error", reject);
      child.on("close", (code) => resolve({ code, stdout, stderr: "" }));
    });
    expect(r.code).toBe(1);
    expect(r.stdout).toContain("deploy: stage has no steps");
  });

  it("resolves relative paths against INIT_CWD when run as the root `wharf` script", async () => {
    const r = await wharf(["lint", "hello"], repoRoot, {
      npm_lifecycle_event: "wharf",
      INIT_CWD: path.join(repoRoot, "examples"),
    });
    expect(r.code).toBe(0);
  });
});
