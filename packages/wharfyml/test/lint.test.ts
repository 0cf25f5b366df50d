import { describe, expect, it } from "vitest";
import { type Diagnostic, lintPipeline, planPipeline } from "../src/index.js";

const y = (...lines: string[]) => `${lines.join("\n")}\n`;
const brief = (d: Diagnostic) =>
  `${d.line}:${d.column} ${d.scope}: ${d.severity === "warning" ? "warning: " : ""}${d.message}`;
const lint = (text: string) => lintPipeline(text).map(brief);

const okStep = "    container: {image: busybox, cmds: [echo hi]}";

describe("lintPipeline: structure rules", () => {
  it("accepts a valid file with no diagnostics", () => {
    expect(lint(y("build:", "  hello:", okStep))).toEqual([]);
  });

  it("reports every problem in one pass, sorted by position", () => {
    const text = y(
      "inputs:", //                                     1
      "  - {name: A, type: string}", //                 2
      "  - {name: A, type: text}", //                   3
      "environments:", //                               4
      "  dev: {X: 1}", //                               5
      "build:", //                                      6
      "  run-if: maybe", //                             7
      "  environments: [dev, prod]", //                 8
      "  compile:", //                                  9
      "    container:", //                              10
      "      image: [not, a, string]", //               11
      "      cmd: [typo]", //                           12
      "  both:", //                                     13
      "    container: {image: x, cmds: [y]}", //        14
      "    docker: {file: Dockerfile, tag: latest}", // 15
      "  none: {}", //                                  16
      "empty:", //                                      17
    );
    expect(lint(text)).toEqual([
      '3:21 inputs/A: unknown input type string "text" (expected string, password, number, choice)',
      '7:11 build: invalid run-if "maybe" (expected success, fail or always)',
      '8:23 build: undefined environment "prod" (defined: dev)',
      '10:5 build/compile/container: missing required field "cmds"',
      '11:14 build/compile/container: field "image" must be a string, got a list',
      '12:7 build/compile/container: warning: unknown field "cmd" (did you mean "cmds"?)',
      "13:3 build/both: step has several step types (container, docker); use exactly one",
      "16:3 build/none: step has no step type",
      "17:1 empty: stage has no steps",
    ]);
  });

  it("reports a stage with only special keys as having no steps", () => {
    expect(lint(y("build:", "  run-if: always"))).toEqual(["1:1 build: stage has no steps"]);
  });

  it("reports a pipeline without stages", () => {
    expect(lint(y("environments:", "  dev: {}"))).toEqual(["1:1 document: the pipeline has no stages"]);
  });

  it("reports unknown step types with a suggestion", () => {
    expect(lint(y("build:", "  a:", "    contianer: {image: x, cmds: [y]}"))).toEqual([
      '3:5 build/a: unknown step type "contianer" (did you mean "container"?)',
    ]);
    expect(lint(y("build:", "  a:", "    bash: {run: x}"))[0]).toMatch(
      /unknown step type "bash" \(expected one of container, docker, helm, helm-package, kubectl, nuget-package\)/,
    );
  });

  it("reports a step that is not a map, and a step type body that is not a map", () => {
    expect(lint(y("build:", "  a: echo hi", "  b:", "    container: just text"))).toEqual([
      '2:6 build/a: a step must be a map with one step type, got string "echo hi"',
      '4:16 build/b/container: step type fields must be a map, got string "just text"',
    ]);
  });

  it("checks run-if values", () => {
    for (const ok of ["success", "fail", "always"])
      expect(lint(y("s:", `  run-if: ${ok}`, "  a:", okStep))).toEqual([]);
    expect(lint(y("s:", "  run-if: [always]", "  a:", okStep))[0]).toMatch(/invalid run-if a list/);
  });

  it("checks stage environments against the defined ones", () => {
    expect(lint(y("s:", "  environments: [dev]", "  a:", okStep))).toEqual([
      '2:18 s: undefined environment "dev" (no environments are defined)',
    ]);
    expect(lint(y("environments: {dev: {}}", "s:", "  environments: dev", "  a:", okStep))[0]).toMatch(
      /environments must be a list/,
    );
  });

  it("checks environments are maps of scalar variables", () => {
    expect(lint(y("environments:", "  dev:", "    A: [1]", "  prod: 3", "s:", "  a:", okStep))).toEqual([
      '3:8 environments/dev: variable "A" must be a string, number or boolean, got a list',
      "4:9 environments/prod: an environment must be a map of variables, got number 3",
    ]);
  });

  it("reports variable loops among environment vars", () => {
    expect(lint(y("environments:", "  dev:", "    A: ${B}", "    B: x${A}", "s:", "  a:", okStep))).toEqual([
      "3:8 environments/dev: A: variable loop: B → A → B",
      "4:8 environments/dev: B: variable loop: A → B → A",
    ]);
  });

  it("does not type-check values that still hold variables", () => {
    const text = y(
      "s:",
      "  a:",
      "    container:",
      "      image: x",
      "      cmds: [y]",
      "      retries: ${N}",
      "      timeout: ${T}",
    );
    expect(lint(text)).toEqual([]);
  });

  it("checks the extension fields", () => {
    const text = y(
      "s:",
      "  a:",
      "    container:",
      "      image: x",
      "      cmds: [y]",
      "      retries: -1",
      "      timeout: soon",
      "      artifacts: [/etc/passwd, ../up, ok/**]",
      "  b:",
      "    kubectl: {file: a.yml, artifacts: [x], retries: 2, timeout: 1m}",
    );
    expect(lint(text)).toEqual([
      '6:16 s/a/container: field "retries" must be a non-negative integer, got number -1',
      '7:16 s/a/container: field "timeout" must be a positive duration such as 30s, 10m or 1h, got string "soon"',
      '8:7 s/a/container: artifact glob "/etc/passwd" must stay inside the workspace (relative, no "..")',
      '8:7 s/a/container: artifact glob "../up" must stay inside the workspace (relative, no "..")',
      "10:28 s/b/kubectl: warning: artifacts are only collected from container steps; ignored",
    ]);
  });

  it("checks the docker step's no-cache and pull as booleans, with their position", () => {
    const text = y(
      "s:",
      "  a:",
      "    docker:",
      "      file: Dockerfile",
      "      tag: v1",
      "      no-cache: yes please",
      "      pull: 1",
    );
    expect(lint(text)).toEqual([
      '6:17 s/a/docker: field "no-cache" must be true or false, got string "yes please"',
      '7:13 s/a/docker: field "pull" must be true or false, got number 1',
    ]);
    expect(lint(y("s:", "  a:", "    docker: {file: D, tag: v1, no-cache: true, pull: false}"))).toEqual([]);
  });

  // wharf-cmd v0.9.1 pkg/steps/docker.go: ARG=secret-key, both non-empty; secretArgs and secretName together.
  it("checks a docker step's secretArgs as wharf-cmd does, at the field", () => {
    const text = y(
      "s:",
      "  a:",
      "    docker:",
      "      file: D",
      "      tag: v1",
      "      secretName: app",
      "      secretArgs: [TOKEN=token, NOEQUALS, =key, ARG=]",
      "  b:",
      "    docker: {file: D, tag: v1, secretArgs: [A=b]}",
      "  c:",
      "    docker: {file: D, tag: v1, secretName: app}",
    );
    expect(lint(text)).toEqual([
      '7:7 s/a/docker: secretArgs entry "NOEQUALS" must be ARG=secret-key (the build arg, then the key)',
      '7:7 s/a/docker: secretArgs entry "=key" must be ARG=secret-key (the build arg, then the key)',
      '7:7 s/a/docker: secretArgs entry "ARG=" must be ARG=secret-key (the build arg, then the key)',
      "9:32 s/b/docker: secretArgs need secretName, the Secret their keys are in",
      "11:32 s/c/docker: secretName of a docker step needs secretArgs, the keys to read from it",
    ]);
  });

  it("checks cache paths: inside the workspace, no globs; kept only for container steps", () => {
    const text = y(
      "s:",
      "  a:",
      "    container:",
      "      image: x",
      "      cmds: [y]",
      "      cache: [node_modules, /root/.npm, ../up, 'deps/*', ./node_modules/, 7]",
      "  b:",
      "    docker: {file: D, tag: v1, cache: [x]}",
      "  c:",
      "    container: {image: x, cmds: [y], cache: node_modules}",
    );
    expect(lint(text)).toEqual([
      '6:7 s/a/container: cache path "/root/.npm" must be a directory or file inside the workspace (relative, no "..")',
      '6:7 s/a/container: cache path "../up" must be a directory or file inside the workspace (relative, no "..")',
      '6:7 s/a/container: cache path "deps/*" must be a plain path; globs are not expanded',
      '6:7 s/a/container: warning: cache path "./node_modules/" is listed twice',
      "8:32 s/b/docker: warning: cache is kept only for container steps (a docker step has the engine's layer cache); ignored",
      '10:45 s/c/container: field "cache" must be a list of strings, got string "node_modules"',
    ]);
  });

  it("only warns on unknown fields (they do not make the file invalid)", () => {
    const d = lintPipeline(y("s:", "  a:", "    container: {image: x, cmds: [y], colour: red}"));
    expect(d).toEqual([expect.objectContaining({ severity: "warning", message: 'unknown field "colour"' })]);
  });
});

describe("lintPipeline: inputs", () => {
  const withInputs = (...lines: string[]) => y("inputs:", ...lines, "s:", "  a:", okStep);

  it("accepts the four input types", () => {
    const text = withInputs(
      "  - {name: S, type: string, default: hello}",
      "  - {name: P, type: password}",
      "  - {name: N, type: number, default: 4.5}",
      "  - {name: C, type: choice, values: [a, b], default: b}",
    );
    expect(lint(text)).toEqual([]);
  });

  it("reports duplicate names, unknown types, missing fields and bad defaults", () => {
    const text = withInputs(
      "  - {name: A, type: string}", //                     2
      "  - {name: A, type: number}", //                     3
      "  - {name: B, type: integer}", //                    4
      "  - {type: string}", //                              5
      "  - {name: C}", //                                   6
      "  - {name: D, type: number, default: many}", //      7
      "  - {name: E, type: choice, values: [x, y], default: z}", // 8
      "  - {name: F, type: choice, values: [x]}", //        9
      "  - {name: G, type: choice, default: x}", //         10
      "  - {name: H, type: string, secret: true}", //       11
    );
    expect(lint(text)).toEqual([
      '3:5 inputs/A: duplicate input name "A" (first at 2:5)',
      '4:21 inputs/B: unknown input type string "integer" (expected string, password, number, choice)',
      '5:5 inputs/3: missing required field "name"',
      '6:5 inputs/C: missing required field "type"',
      '7:38 inputs/D: field "default" of a number input must be a number, got string "many"',
      '8:54 inputs/E: default "z" is not one of the values (x, y)',
      '9:5 inputs/F: a choice input needs a "default" from its values',
      '10:5 inputs/G: missing required field "values" (a choice input lists its values)',
      '11:29 inputs/H: warning: unknown field "secret"',
    ]);
  });

  it("requires inputs to be a list of maps", () => {
    expect(lint(y("inputs: {A: 1}", "s:", "  a:", okStep))).toEqual([
      "1:9 inputs: inputs must be a list, got a map",
    ]);
    expect(lint(withInputs("  - A"))).toEqual([
      '2:5 inputs/0: an input must be a map with name and type, got string "A"',
    ]);
  });
});

describe("the pipeline's timeout (top-level `timeout:`, our extension)", () => {
  it("is a positive duration; anything else is an error at its position", () => {
    expect(lint(y("timeout: 30m", "build:", "  hello:", okStep))).toEqual([]);
    expect(lint(y("timeout: soon", "build:", "  hello:", okStep))).toEqual([
      '1:10 document: timeout must be a positive duration such as 30s, 10m or 1h, got string "soon"',
    ]);
    expect(lint(y("build:", "  hello:", okStep, "timeout: [1h]"))).toEqual([
      "4:10 document: timeout must be a positive duration such as 30s, 10m or 1h, got a list",
    ]);
    expect(lint(y("timeout: 0", "build:", "  hello:", okStep))).toHaveLength(1);
    expect(lint(y("timeout: 600h", "build:", "  hello:", okStep))).toEqual([
      "1:10 document: timeout must be at most 576h (24 days)",
    ]);
  });

  it("is planned as the plan's timeoutMs; a map under `timeout` stays a stage, as in wharf-cmd", () => {
    expect(planPipeline(y("timeout: 1h30m", "build:", "  hello:", okStep)).plan?.timeoutMs).toBe(5_400_000);
    expect(planPipeline(y("timeout: 90", "build:", "  hello:", okStep)).plan?.timeoutMs).toBe(90_000);
    const staged = planPipeline(y("timeout:", "  hello:", okStep)).plan;
    expect(staged?.timeoutMs).toBeUndefined();
    expect(staged?.stages.map((s) => s.name)).toEqual(["timeout"]);
  });
});
