/**
 * Wharf's variable substitution: `${NAME}` (whitespace inside the braces allowed) is
 * replaced by the variable's value, `${%NAME%}` is an escape that yields a literal
 * `${NAME}`, undefined variables stay as written, and values that themselves contain
 * `${...}` are substituted recursively. A text that is exactly one reference keeps the
 * value's type (`retries: ${N}` with N=2 gives the number 2).
 */

export type VarValue = string | number | boolean | null;

/** Returns the variable's value, or undefined when no source defines it. */
export type VarLookup = (name: string) => VarValue | undefined;

export type SubstituteResult =
  | { ok: true; value: VarValue; unresolved: string[] }
  | { ok: false; error: string };

// Same shape as wharf-cmd's pattern: optional %...% escape around a word-and-space name.
const referencePattern = /\$\{\s*(%*[\w\s]*%*)\s*\}/g;
const escapePattern = /^%\s*([\w\s]*?)\s*%$/;

/** Guards against runaway expansion (e.g. A="${B}${B}", B="${C}${C}"...). */
const maxResultLength = 1_000_000;

export function substitute(text: string, lookup: VarLookup): SubstituteResult {
  if (!text.includes("${")) return { ok: true, value: text, unresolved: [] };
  const unresolved: string[] = [];
  try {
    const value = substituteIn(text, lookup, [], unresolved);
    return { ok: true, value, unresolved };
  } catch (err) {
    if (err instanceof SubstitutionError) return { ok: false, error: err.message };
    throw err;
  }
}

/** The names referenced in `text` (escapes excluded), in order of appearance. */
export function referencedNames(text: string): string[] {
  const names: string[] = [];
  for (const m of text.matchAll(referencePattern)) {
    const name = variableName(m[1] ?? "");
    if (name !== null) names.push(name);
  }
  return names;
}

class SubstitutionError extends Error {}

function substituteIn(text: string, lookup: VarLookup, chain: string[], unresolved: string[]): VarValue {
  const matches = [...text.matchAll(referencePattern)];
  const single = matches.length === 1 && matches[0]?.[0] === text;
  if (single) {
    const replaced = replacement(matches[0]?.[1] ?? "", lookup, chain, unresolved);
    return replaced === undefined ? text : replaced;
  }
  const out = text.replace(referencePattern, (whole, inner: string) => {
    const replaced = replacement(inner, lookup, chain, unresolved);
    return replaced === undefined ? whole : stringify(replaced);
  });
  if (out.length > maxResultLength)
    throw new SubstitutionError(`variables expand to more than ${maxResultLength} characters`);
  return out;
}

/** The value a reference stands for, or undefined to leave it as written. */
function replacement(
  inner: string,
  lookup: VarLookup,
  chain: string[],
  unresolved: string[],
): VarValue | undefined {
  const escaped = escapePattern.exec(inner);
  if (escaped) return `\${${escaped[1] ?? ""}}`;
  if (inner === "%") return `\${}`;
  const name = variableName(inner);
  if (name === null) return undefined;
  if (chain.includes(name)) throw new SubstitutionError(`variable loop: ${[...chain, name].join(" → ")}`);
  const value = lookup(name);
  if (value === undefined) {
    if (!unresolved.includes(name)) unresolved.push(name);
    return undefined;
  }
  if (typeof value === "string" && value.includes("${"))
    return substituteIn(value, lookup, [...chain, name], unresolved);
  return value;
}

function variableName(inner: string): string | null {
  const name = inner.trim();
  if (name === "" || name.includes("%")) return null;
  return name;
}

export function stringify(value: VarValue): string {
  return value === null ? "" : String(value);
}
