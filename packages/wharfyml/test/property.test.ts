import fc from "fast-check";
import { describe, it } from "vitest";
import { stringify } from "yaml";
import { type Diagnostic, lintPipeline, planPipeline } from "../src/index.js";

/**
 * Whatever the text, the parser returns; every failure is a diagnostic positioned in the
 * file (line ≥ 1, column ≥ 1) — only problems with the options themselves use line 0.
 * Plain checks rather than expect(): this runs 10,000 times and must stay fast.
 */
function positioned(ds: Diagnostic[]): void {
  for (const d of ds) {
    const inFile = d.scope !== "options";
    const ok =
      Number.isInteger(d.line) &&
      Number.isInteger(d.column) &&
      (!inFile || (d.line >= 1 && d.column >= 1)) &&
      d.message.length > 0 &&
      (d.severity === "error" || d.severity === "warning");
    if (!ok) throw new Error(`badly positioned diagnostic ${JSON.stringify(d)}`);
  }
}

/** Lint mode: no options, values with variables are not type-checked. */
function checkLintNeverThrows(text: string): void {
  positioned(lintPipeline(text));
}

/**
 * Plan mode: the chosen environment's stages are checked strictly with variables
 * (including a loop), the others as in lint; a null plan always comes with an error.
 */
function checkPlanNeverThrows(text: string): void {
  const planned = planPipeline(text, {
    environment: "dev",
    inputs: { A: "1" },
    vars: [{ name: "v", vars: { X: "${Y}", Y: "y", N: 3, LOOP: "${LOOP}" } }],
  });
  positioned(planned.diagnostics);
  const errors = planned.diagnostics.filter((d) => d.severity === "error").length;
  if ((planned.plan === null) !== errors > 0)
    throw new Error(`plan ${planned.plan ? "set" : "null"} with ${errors} errors`);
}

const yamlishChars = fc.constantFrom(
  ..."abcxyz019 :-\n\n  \t{}[],&*!|>'\"#%@`?$<".split(""),
  "<<",
  "---",
  "...",
  "${X}",
  "${%X%}",
  "container",
  "image",
  "cmds",
  "environments",
  "inputs",
  "run-if",
  "\u00e9",
  "\u{1F600}",
);
const randomText = fc.array(yamlishChars, { maxLength: 60 }).map((parts) => parts.join(""));

const scalar = fc.oneof(
  fc.constantFrom("busybox", "${X}", "${ N }", "${%X%}", "${LOOP}", "10m", "-1", "success", "dev", "a,b", ""),
  fc.integer({ min: -3, max: 5 }),
  fc.boolean(),
  fc.constant(null),
);
const fieldName = fc.constantFrom(
  "image",
  "cmds",
  "shell",
  "file",
  "files",
  "tag",
  "push",
  "chart",
  "name",
  "namespace",
  "set",
  "timeout",
  "retries",
  "artifacts",
  "version",
  "repo",
  "bogus",
);
const value = fc.letrec((tie) => ({
  node: fc.oneof(
    { maxDepth: 2 },
    scalar,
    fc.array(tie("node"), { maxLength: 3 }),
    fc.dictionary(fieldName, tie("node"), { maxKeys: 2 }),
  ),
})).node;
const stepBody = fc.dictionary(fieldName, value, { maxKeys: 5 });
const stepType = fc.constantFrom(
  "container",
  "docker",
  "helm",
  "helm-package",
  "kubectl",
  "nuget-package",
  "bash",
);
const step = fc.dictionary(stepType, fc.oneof(stepBody, scalar), { minKeys: 0, maxKeys: 2 });
const stage = fc.dictionary(
  fc.constantFrom("one", "two", "three", "environments", "run-if"),
  fc.oneof(step, fc.constantFrom<unknown>(["dev"], ["prod"], "always", "sometimes", null)),
  { maxKeys: 4 },
);
const pipeline = fc.record(
  {
    inputs: fc.array(
      fc.record({
        name: fc.constantFrom("A", "B", "A"),
        type: fc.constantFrom("string", "number", "choice", "password", "text"),
        default: scalar,
        values: fc.array(fc.constantFrom("x", "y", "1"), { maxLength: 3 }),
      }),
      { maxLength: 3 },
    ),
    environments: fc.dictionary(
      fc.constantFrom("dev", "prod"),
      fc.dictionary(fc.constantFrom("X", "N", "A"), scalar),
    ),
    build: stage,
    deploy: stage,
  },
  { requiredKeys: [] },
);

type Mutation = { at: number; len: number; junk: string; how: "cut" | "insert" | "indent" | "none" };
const mutation: fc.Arbitrary<Mutation> = fc.record({
  at: fc.nat(),
  len: fc.nat({ max: 8 }),
  junk: randomText,
  how: fc.constantFrom("cut", "insert", "indent", "none"),
});

/** Breaks a well-formed document: cut a slice, insert junk, or re-indent a line. */
function mutate(text: string, { at, len, junk, how }: Mutation): string {
  const i = at % (text.length + 1);
  if (how === "cut") return text.slice(0, i) + text.slice(i + len);
  if (how === "insert") return text.slice(0, i) + junk + text.slice(i);
  if (how === "indent") {
    const lines = text.split("\n");
    const l = i % lines.length;
    lines[l] = " ".repeat(len) + (lines[l] ?? "");
    return lines.join("\n");
  }
  return text;
}

// Generating documents costs more than parsing them, so each generated document is
// checked under ten mutations: 600 runs × 10 = 6,000 documents.
const mutatedBatch = fc
  .tuple(pipeline, fc.array(mutation, { minLength: 10, maxLength: 10 }))
  .map(([doc, mutations]) => {
    const text = stringify(doc);
    return mutations.map((m) => mutate(text, m));
  });

describe("property: the parser never throws", () => {
  it("on 4,000 random YAML-ish texts", () => {
    fc.assert(fc.property(randomText, checkLintNeverThrows), { numRuns: 4_000, seed: 20240501 });
  }, 120_000);

  it("on 6,000 generated and mutated pipeline documents", () => {
    fc.assert(
      fc.property(mutatedBatch, (texts) => texts.forEach(checkPlanNeverThrows)),
      { numRuns: 600, seed: 20240502 },
    );
  }, 120_000);
});
