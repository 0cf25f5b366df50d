import { describe, expect, it } from "vitest";
import { referencedNames, substitute, type VarValue } from "../src/index.js";

const vars: Record<string, VarValue> = {
  NAME: "world",
  N: 3,
  F: 1.5,
  B: true,
  NIL: null,
  "MY VAR": "spaced",
  NESTED: "hello ${NAME}",
  DEEP: "${NESTED}!",
  LOOP_A: "${LOOP_B}",
  LOOP_B: "x ${LOOP_A}",
  SELF: "${SELF}",
  ESCAPED: "${%NAME%}",
};
const lookup = (name: string) => (Object.hasOwn(vars, name) ? vars[name] : undefined);
const sub = (text: string) => {
  const r = substitute(text, lookup);
  return r.ok ? r.value : `error: ${r.error}`;
};

describe("variable substitution", () => {
  it("replaces ${NAME}, with whitespace allowed inside the braces", () => {
    expect(sub("hello ${NAME}")).toBe("hello world");
    expect(sub("hello ${ NAME }, ${NAME}")).toBe("hello world, world");
    expect(sub("${ MY VAR }")).toBe("spaced");
  });

  it("leaves undefined variables as written and reports them", () => {
    expect(sub("a ${MISSING} b")).toBe("a ${MISSING} b");
    expect(sub("${ MISSING }")).toBe("${ MISSING }");
    expect(substitute("${X}${NAME}${Y}", lookup)).toEqual({
      ok: true,
      value: "${X}world${Y}",
      unresolved: ["X", "Y"],
    });
  });

  it("escapes ${%NAME%} to a literal ${NAME}", () => {
    expect(sub("echo ${%NAME%}")).toBe("echo ${NAME}");
    expect(sub("${%NAME%}")).toBe("${NAME}");
    expect(sub("${ %NAME% } and ${NAME}")).toBe("${NAME} and world");
    expect(sub("${%}")).toBe("${}");
    expect(sub("${ESCAPED}")).toBe("${NAME}");
  });

  it("keeps the value's type when the text is exactly one variable", () => {
    expect(sub("${N}")).toBe(3);
    expect(sub("${F}")).toBe(1.5);
    expect(sub("${B}")).toBe(true);
    expect(sub("${NIL}")).toBeNull();
    expect(sub("${ N }")).toBe(3);
    expect(sub("n=${N}")).toBe("n=3");
    expect(sub(" ${N}")).toBe(" 3");
    expect(sub("${B}${N}")).toBe("true3");
    expect(sub("[${NIL}]")).toBe("[]");
  });

  it("looks values up recursively", () => {
    expect(sub("${NESTED}")).toBe("hello world");
    expect(sub("say: ${DEEP}")).toBe("say: hello world!");
  });

  it("reports loops with the chain of names", () => {
    expect(sub("${LOOP_A}")).toBe("error: variable loop: LOOP_A → LOOP_B → LOOP_A");
    expect(sub("x ${SELF}")).toBe("error: variable loop: SELF → SELF");
  });

  it("bounds exponential expansion", () => {
    const big: Record<string, string> = { V0: "x".repeat(100) };
    for (let i = 1; i < 20; i++) big[`V${i}`] = `\${V${i - 1}}\${V${i - 1}}`;
    const r = substitute("${V19}", (n) => big[n]);
    expect(r).toEqual({ ok: false, error: expect.stringMatching(/more than/) });
  });

  it("lists referenced names, without escapes", () => {
    expect(referencedNames("${A} ${%B%} ${ C } ${}")).toEqual(["A", "C"]);
  });
});
