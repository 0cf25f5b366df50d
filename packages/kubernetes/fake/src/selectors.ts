/**
 * Label and field selectors as the API server parses them (the subset clients use:
 * `a=b`, `a==b`, `a!=b`, `a`, `!a`, `a in (x,y)`, `a notin (x,y)` for labels;
 * `path=value`, `path!=value` for fields). A malformed selector is a 400, as on a real server.
 */

export class SelectorError extends Error {
  override readonly name = "SelectorError";
}

type Requirement = (labels: Record<string, string>) => boolean;

/** Splits on commas that are not inside `( … )`. */
function splitTerms(selector: string): string[] {
  const terms: string[] = [];
  let depth = 0;
  let current = "";
  for (const ch of selector) {
    if (ch === "(") depth++;
    if (ch === ")") depth--;
    if (ch === "," && depth === 0) {
      terms.push(current.trim());
      current = "";
    } else current += ch;
  }
  if (current.trim()) terms.push(current.trim());
  return terms.filter(Boolean);
}

const KEY = /^[A-Za-z0-9]([-A-Za-z0-9_./]*[A-Za-z0-9])?$/;

function checkKey(key: string, term: string): string {
  if (!KEY.test(key)) throw new SelectorError(`invalid label key "${key}" in selector term "${term}"`);
  return key;
}

function parseLabelTerm(term: string): Requirement {
  const setMatch = /^(\S+)\s+(in|notin)\s+\(([^)]*)\)$/.exec(term);
  if (setMatch) {
    const key = checkKey(setMatch[1]!, term);
    const values = setMatch[3]!.split(",").map((v) => v.trim());
    return setMatch[2] === "in"
      ? (l) => l[key] !== undefined && values.includes(l[key]!)
      : (l) => l[key] === undefined || !values.includes(l[key]!);
  }
  const opMatch = /^([^!=\s]+)\s*(==|=|!=)\s*(\S*)$/.exec(term);
  if (opMatch) {
    const key = checkKey(opMatch[1]!, term);
    const value = opMatch[3]!;
    return opMatch[2] === "!=" ? (l) => l[key] !== value : (l) => l[key] === value;
  }
  if (term.startsWith("!")) {
    const key = checkKey(term.slice(1).trim(), term);
    return (l) => l[key] === undefined;
  }
  const key = checkKey(term, term);
  return (l) => l[key] !== undefined;
}

/** Returns a predicate over an object's labels; an empty selector matches everything. */
export function parseLabelSelector(selector: string | null | undefined): Requirement {
  if (!selector) return () => true;
  const requirements = splitTerms(selector).map(parseLabelTerm);
  return (labels) => requirements.every((r) => r(labels));
}

/** Reads a dotted path (`status.phase`, `involvedObject.name`) from an object. */
function fieldValue(obj: unknown, path: string): string {
  let current: unknown = obj;
  for (const part of path.split(".")) {
    if (current === null || typeof current !== "object") return "";
    current = (current as Record<string, unknown>)[part];
  }
  return current === undefined || current === null ? "" : String(current);
}

/** Returns a predicate over whole objects; supports `=`, `==` and `!=` on dotted field paths. */
export function parseFieldSelector(selector: string | null | undefined): (obj: unknown) => boolean {
  if (!selector) return () => true;
  const requirements = splitTerms(selector).map((term) => {
    const m = /^([A-Za-z0-9_.]+)\s*(==|=|!=)\s*(.*)$/.exec(term);
    if (!m) throw new SelectorError(`invalid field selector term "${term}"`);
    const [, path, op, value] = m as unknown as [string, string, string, string];
    return op === "!="
      ? (o: unknown) => fieldValue(o, path) !== value
      : (o: unknown) => fieldValue(o, path) === value;
  });
  return (obj) => requirements.every((r) => r(obj));
}
