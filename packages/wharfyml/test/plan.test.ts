import { describe, expect, it } from "vitest";
import { type Plan, planPipeline, type VarSource } from "../src/index.js";

const y = (...lines: string[]) => `${lines.join("\n")}\n`;
const step = (name: string, cmd = "echo") => [
  `  ${name}:`,
  `    container: {image: busybox, cmds: ["${cmd}"]}`,
];

const staged = y(
  "environments:",
  "  dev: {HOST: dev.local}",
  "  prod: {HOST: prod.local}",
  "build:",
  ...step("compile"),
  ...step("test"),
  "deploy-dev:",
  "  environments: [dev]",
  ...step("up"),
  "deploy-prod:",
  "  environments: [prod]",
  "  run-if: always",
  ...step("up"),
  ...step("notify"),
  "report:",
  "  run-if: fail",
  ...step("mail"),
);

const shape = (plan: Plan | null) =>
  plan?.stages.map((s) => `${s.name}(${s.runIf}): ${s.steps.map((st) => `${st.id}=${st.name}`).join(",")}`);

describe("planPipeline: stage and environment filtering", () => {
  it("keeps stages in declaration order and skips environment-only stages when none is chosen", () => {
    const r = planPipeline(staged);
    expect(r.diagnostics).toEqual([]);
    expect(shape(r.plan)).toEqual(["build(success): 1=compile,2=test", "report(fail): 3=mail"]);
    expect(r.plan?.environment).toBeNull();
  });

  it("runs a stage with environments only when the chosen one is listed; ids are 1..N across kept stages", () => {
    expect(shape(planPipeline(staged, { environment: "prod" }).plan)).toEqual([
      "build(success): 1=compile,2=test",
      "deploy-prod(always): 3=up,4=notify",
      "report(fail): 5=mail",
    ]);
    expect(shape(planPipeline(staged, { environment: "dev" }).plan)).toEqual([
      "build(success): 1=compile,2=test",
      "deploy-dev(success): 3=up",
      "report(fail): 4=mail",
    ]);
  });

  it("selects one stage with --stage", () => {
    const r = planPipeline(staged, { stage: "deploy-prod", environment: "prod" });
    expect(shape(r.plan)).toEqual(["deploy-prod(always): 1=up,2=notify"]);
    expect(r.plan?.stages[0]?.steps[1]).toMatchObject({
      id: 2,
      name: "notify",
      stage: "deploy-prod",
      type: "container",
    });
  });

  it("rejects an unknown stage or environment", () => {
    expect(planPipeline(staged, { stage: "nope" }).diagnostics).toEqual([
      expect.objectContaining({
        line: 0,
        scope: "options",
        message: expect.stringContaining('unknown stage "nope"'),
      }),
    ]);
    const env = planPipeline(staged, { environment: "staging" });
    expect(env.plan).toBeNull();
    expect(env.diagnostics[0]?.message).toBe('unknown environment "staging" (defined: dev, prod)');
  });

  it("rejects a selected stage that does not run in the chosen environment", () => {
    const r = planPipeline(staged, { stage: "deploy-prod" });
    expect(r.plan).toBeNull();
    expect(r.diagnostics[0]?.message).toMatch(/does not run without an environment/);
  });

  it("still reports errors in stages that are filtered out", () => {
    const text = y("a:", ...step("ok"), "b:", "  environments: []", "  broken:", "    container: {image: x}");
    const r = planPipeline(text);
    expect(r.plan).toBeNull();
    expect(r.diagnostics).toEqual([expect.objectContaining({ scope: "b/broken/container", line: 7 })]);
  });
});

describe("planPipeline: variables", () => {
  const withVars = y(
    "inputs:",
    "  - {name: A, type: string, default: from-default}",
    "  - {name: COUNT, type: number, default: 2}",
    "  - {name: LEVEL, type: choice, values: [low, high], default: low}",
    "  - {name: PW, type: password, default: s3cret}",
    "environments:",
    "  dev: {A: from-env, B: from-env, RETRIES: 3}",
    "s:",
    "  a:",
    "    container:",
    "      image: ${A}",
    "      cmds: ['${B} ${C} ${D} ${E} ${F} ${LEVEL} ${%A%} ${UNDEFINED}', '${COUNT}']",
    "      retries: ${RETRIES}",
    "      timeout: ${T}",
  );
  const low = (n: number): VarSource[] => [
    { name: "build", vars: { B: `build-${n}`, C: "from-build", T: "5m" } },
    { name: "env WHARF_VAR_*", vars: { C: "from-env-var", D: "from-env-var" } },
    { name: "/repo/.wharf-vars.yml", vars: { D: "from-file", E: "from-file" } },
    { name: "/etc/iver-wharf/wharf-cmd/wharf-vars.yml", vars: { E: "from-etc", F: "from-etc" } },
    { name: "git", vars: { F: "from-git", A: "from-git" } },
  ];

  it("applies the priority order: -i, defaults, environment, build, WHARF_VAR_*, files, git", () => {
    const r = planPipeline(withVars, { environment: "dev", inputs: { A: "from-input" }, vars: low(1) });
    expect(r.diagnostics).toEqual([]);
    const spec = r.plan?.stages[0]?.steps[0]?.spec;
    expect(spec).toMatchObject({
      image: "from-input",
      cmds: ["from-env from-build from-env-var from-file from-etc low ${A} ${UNDEFINED}", "2"],
    });
    expect(r.plan?.stages[0]?.steps[0]).toMatchObject({ retries: 3, timeoutMs: 300_000 });
    expect(r.variables.sourceOf("A")).toBe("input");
    expect(
      r.variables
        .list()
        .find((v) => v.name === "A")
        ?.shadowed.map((s) => s.source),
    ).toEqual(["input default", "environment dev", "git"]);
    const noInput = planPipeline(withVars, { environment: "dev", vars: low(1) });
    expect(noInput.plan?.stages[0]?.steps[0]?.spec).toMatchObject({ image: "from-default" });
  });

  it("keeps types through substitution and converts -i values to the input's type", () => {
    const r = planPipeline(withVars, {
      environment: "dev",
      inputs: { COUNT: "7", LEVEL: "high" },
      vars: low(1),
    });
    expect(r.variables.lookup("COUNT")).toBe(7);
    expect(r.plan?.stages[0]?.steps[0]?.spec).toMatchObject({
      cmds: [expect.stringContaining(" high "), "7"],
    });
    const bad = planPipeline(withVars, { inputs: { COUNT: "many", LEVEL: "medium", OTHER: "x" } });
    expect(
      bad.diagnostics.filter((d) => d.scope === "options").map((d) => `${d.severity} ${d.message}`),
    ).toEqual([
      'error input "COUNT" must be a number, got "many"',
      'error input "LEVEL" must be one of low, high, got "medium"',
      'warning input "OTHER" is not declared under inputs:',
    ]);
  });

  it("type-checks substituted values strictly when planning", () => {
    const r = planPipeline(withVars, {
      environment: "dev",
      vars: [{ name: "x", vars: { RETRIES: "lots" } }],
    });
    expect(r.plan).toBeNull();
    expect(r.diagnostics.map((d) => `${d.line}:${d.column} ${d.message}`)).toEqual([
      '14:16 field "timeout" must be a positive duration such as 30s, 10m or 1h, got string "${T}"',
    ]);
    const retries = planPipeline(withVars, { vars: [{ name: "x", vars: { RETRIES: "lots", T: "1m" } }] });
    expect(retries.diagnostics[0]?.message).toBe(
      'field "retries" must be a non-negative integer, got string "lots"',
    );
  });

  it("reports a variable loop at the value that uses it", () => {
    const text = y("s:", "  a:", "    container:", "      image: x", "      cmds: ['${X}']");
    const r = planPipeline(text, { vars: [{ name: "v", vars: { X: "${Y}", Y: "a ${X}" } }] });
    expect(r.diagnostics).toEqual([
      {
        line: 5,
        column: 14,
        scope: "s/a/container",
        message: "variable loop: X → Y → X",
        severity: "error",
      },
    ]);
  });

  it("collects password input values and extra secrets", () => {
    expect(
      planPipeline(withVars, { environment: "dev", vars: low(1), secrets: ["tok", ""] }).plan?.secrets,
    ).toEqual(["s3cret", "tok"]);
    expect(
      planPipeline(withVars, { environment: "dev", vars: low(1), inputs: { PW: "given" } }).plan?.secrets,
    ).toEqual(["given"]);
  });
});
