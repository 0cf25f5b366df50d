import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { lintPipeline, planPipeline } from "../src/index.js";

const examplesDir = path.resolve(fileURLToPath(import.meta.url), "../../../../examples");
const examples = readdirSync(examplesDir, { withFileTypes: true })
  .filter((e) => e.isDirectory())
  .map((e) => e.name)
  .sort();
const read = (name: string) => readFileSync(path.join(examplesDir, name, ".wharf-ci.yml"), "utf8");

describe("examples/", () => {
  it("has the documented examples", () => {
    expect(examples).toEqual(
      expect.arrayContaining(["hello", "parallel", "inputs-envs", "docker-build", "artifacts", "invalid"]),
    );
  });

  it.each(examples.filter((e) => e !== "invalid"))(
    "%s lints clean (no errors, no warnings) and plans",
    (name) => {
      const text = read(name);
      expect(lintPipeline(text)).toEqual([]);
      expect(planPipeline(text).plan).not.toBeNull();
    },
  );

  it("inputs-envs plans differently per environment", () => {
    const text = read("inputs-envs");
    const stages = (environment?: string) =>
      planPipeline(text, environment ? { environment } : {}).plan?.stages.map((s) => s.name);
    expect(stages()).toEqual(["build"]);
    expect(stages("dev")).toEqual(["build", "deploy"]);
    expect(stages("prod")).toEqual(["build", "deploy", "smoke-test"]);
  });

  it("invalid reports several positioned errors, sorted", () => {
    const d = lintPipeline(read("invalid"));
    const errors = d.filter((x) => x.severity === "error");
    expect(errors.length).toBeGreaterThanOrEqual(8);
    for (const e of d) expect(e.line).toBeGreaterThan(0);
    const keys = d.map((x) => x.line * 1000 + x.column);
    expect(keys).toEqual([...keys].sort((a, b) => a - b));
  });
});
