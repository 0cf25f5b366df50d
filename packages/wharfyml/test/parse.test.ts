import { describe, expect, it } from "vitest";
import { lintPipeline, parsePipeline } from "../src/index.js";

const errorsOf = (text: string) => lintPipeline(text).filter((d) => d.severity === "error");

describe("parsePipeline: YAML level", () => {
  it("positions YAML syntax errors", () => {
    const d = errorsOf("build:\n  step:\n    container: {image: x\n");
    expect(d.length).toBeGreaterThan(0);
    expect(d[0]).toMatchObject({ line: expect.any(Number), column: expect.any(Number), scope: "document" });
    expect(d[0]!.line).toBeGreaterThanOrEqual(3);
  });

  it("reports a bad indentation with its line", () => {
    const d = errorsOf("build:\n  a:\n    container:\n      image: x\n     cmds: [y]\n");
    expect(d[0]?.line).toBe(5);
  });

  it("rejects more than one document, positioned at the second", () => {
    const d = errorsOf("a:\n  s:\n    container: {image: x, cmds: [y]}\n---\nb: 1\n");
    expect(d).toEqual([
      expect.objectContaining({ line: 4, column: 1, message: expect.stringContaining("more than one") }),
    ]);
  });

  it.each(["", "   \n", "# only a comment\n", "---\n", "~\n"])("reports an empty document for %j", (text) => {
    const d = errorsOf(text);
    expect(d).toHaveLength(1);
    expect(d[0]).toMatchObject({ line: 1, column: 1, message: "empty document" });
  });

  it("rejects a document that is not a map", () => {
    expect(errorsOf("- a\n- b\n")[0]?.message).toMatch(/must be a map of stages, got a list/);
    expect(errorsOf("hello\n")[0]?.message).toMatch(/must be a map of stages/);
  });

  it("reports duplicate keys with both positions, and empty keys, at every level", () => {
    const text = [
      "build:",
      "  a:",
      "    container:",
      "      image: x",
      "      image: y",
      "      cmds: [z]",
      "  a:",
      "    container: {image: x, cmds: [y]}",
      '  "":',
      "    container: {image: x, cmds: [y]}",
      "build:",
      "  b: {container: {image: x, cmds: [y]}}",
    ].join("\n");
    const d = errorsOf(text);
    expect(d.map((e) => [e.line, e.column, e.scope, e.message])).toEqual([
      [5, 7, "build/a/container", 'duplicate key "image" (first at 4:7)'],
      [7, 3, "build", 'duplicate key "a" (first at 2:3)'],
      [9, 3, "build", "empty key"],
      [11, 1, "document", 'duplicate key "build" (first at 1:1)'],
    ]);
  });

  it("resolves anchors, aliases and merge keys (explicit keys win)", () => {
    const text = [
      "build:",
      "  one:",
      "    container: &base",
      "      image: base:1",
      "      cmds: [echo base]",
      "  two:",
      "    container:",
      "      <<: *base",
      "      image: other:2",
    ].join("\n");
    const { doc, diagnostics } = parsePipeline(text);
    expect(diagnostics).toEqual([]);
    expect(doc?.stages.map((s) => s.name)).toEqual(["build"]);
    const two = doc?.stages[0]?.steps[1];
    expect(two?.body.pairs.map((p) => p.key)).toEqual(["image", "cmds"]);
  });

  it("stops alias bombs with an error instead of hanging", () => {
    const lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"];
    for (let i = 1; i < 9; i++)
      lines.push(
        `a${i}: &a${i} [${Array(10)
          .fill(`*a${i - 1}`)
          .join(", ")}]`,
      );
    const d = errorsOf(lines.join("\n"));
    expect(d.some((e) => /aliases expand to more than/.test(e.message))).toBe(true);
  });

  it("treats a merge of a non-map as an error", () => {
    const d = errorsOf("build:\n  a:\n    container:\n      <<: [1]\n      image: x\n      cmds: [y]\n");
    expect(d).toEqual([expect.objectContaining({ line: 4, message: expect.stringContaining("merge key") })]);
  });
});
