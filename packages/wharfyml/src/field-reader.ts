import { parseDurationMs } from "@wharf/config/env";
import type { DiagnosticList } from "./diagnostics.js";
import { substitute, type VarLookup, type VarValue } from "./varsub.js";
import type { YMap, YNode, YPair, YScalar } from "./yaml-tree.js";

/**
 * The pairs of a map with duplicate and empty keys reported (the first of duplicates
 * is kept). Every map the pipeline reads goes through here.
 */
export function uniquePairs(map: YMap, scope: string, diags: DiagnosticList): YPair[] {
  const seen = new Map<string, YPair>();
  for (const pair of map.pairs) {
    if (pair.key === "") {
      diags.error(pair.keyPos, scope, "empty key");
      continue;
    }
    const first = seen.get(pair.key);
    if (first) {
      diags.error(
        pair.keyPos,
        scope,
        `duplicate key "${pair.key}" (first at ${first.keyPos.line}:${first.keyPos.column})`,
      );
      continue;
    }
    seen.set(pair.key, pair);
  }
  return [...seen.values()];
}

export function describe(node: YNode): string {
  if (node.kind === "map") return "a map";
  if (node.kind === "seq") return "a list";
  if (node.value === null) return "null";
  if (typeof node.value === "string") return `string ${JSON.stringify(node.value)}`;
  return `${typeof node.value} ${String(node.value)}`;
}

export interface FieldReaderOptions {
  scope: string;
  /** Where "missing required field" points: the step type's key. */
  ownerPos: YMap["pos"];
  diags: DiagnosticList;
  /** Variables to substitute into string values; null reads values as written. */
  vars: VarLookup | null;
  /**
   * Lint mode: a value that still holds an unresolved `${...}` may become anything once
   * variables are known, so it is not type-checked.
   */
  lenient: boolean;
}

type Scalarish = { value: VarValue; text: string; pos: YScalar["pos"]; unresolved: boolean };

/** Reads typed fields out of one map, reporting wrong types, missing and unknown fields. */
export class FieldReader {
  private readonly pairs = new Map<string, YPair>();
  private readonly used = new Set<string>();

  constructor(
    readonly map: YMap,
    private readonly opts: FieldReaderOptions,
  ) {
    for (const pair of uniquePairs(map, opts.scope, opts.diags)) this.pairs.set(pair.key, pair);
  }

  /** A variable's value as text (for defaults such as the docker step's REPO_NAME), or undefined. */
  variable(name: string): string | undefined {
    const v = this.opts.vars?.(name);
    return v === undefined || v === null || v === "" ? undefined : String(v);
  }

  /** True when the field is written with a non-null value. */
  has(key: string): boolean {
    const node = this.pairs.get(key)?.value;
    return node !== undefined && !(node.kind === "scalar" && node.value === null);
  }

  /** An error about a field's value as a whole (how it relates to other fields), at its key. */
  fieldError(key: string, message: string): void {
    this.opts.diags.error(this.pairs.get(key)?.keyPos ?? this.opts.ownerPos, this.opts.scope, message);
  }

  keyPos(key: string): YPair["keyPos"] | undefined {
    return this.pairs.get(key)?.keyPos;
  }

  /** Numbers and booleans are fine where text is expected; they are kept as written. */
  string(key: string, required = false): string | undefined {
    const s = this.scalar(key, "a string");
    if (s === null) return undefined;
    if (s === undefined || s.text === "") {
      if (required) this.missing(key);
      return undefined;
    }
    return s.text;
  }

  bool(key: string): boolean | undefined {
    const s = this.scalar(key, "true or false");
    if (!s || s.value === null) return undefined;
    if (typeof s.value === "boolean") return s.value;
    this.wrongType(key, s, "true or false");
    return undefined;
  }

  int(key: string, min: number): number | undefined {
    const s = this.scalar(key, "an integer");
    if (!s || s.value === null) return undefined;
    if (typeof s.value === "number" && Number.isInteger(s.value) && s.value >= min) return s.value;
    this.wrongType(key, s, min === 0 ? "a non-negative integer" : `an integer ≥ ${min}`);
    return undefined;
  }

  /** A duration like `10m`, `1h30m`, `90s`, or a number of seconds; in ms. */
  durationMs(key: string): number | undefined {
    const s = this.scalar(key, "a duration");
    if (!s || s.value === null) return undefined;
    if (typeof s.value === "number" || typeof s.value === "string") {
      try {
        const ms = parseDurationMs(String(s.value));
        if (ms > 0) return ms;
      } catch {
        // reported below
      }
    }
    this.wrongType(key, s, "a positive duration such as 30s, 10m or 1h");
    return undefined;
  }

  stringList(key: string, required = false): string[] | undefined {
    const node = this.take(key);
    if (node === undefined || (node.kind === "scalar" && node.value === null)) {
      if (required) this.missing(key);
      return undefined;
    }
    if (node.kind !== "seq") {
      const s = node.kind === "scalar" ? this.resolve(node) : null;
      if (s?.unresolved && this.opts.lenient) return undefined;
      this.opts.diags.error(
        node.pos,
        this.opts.scope,
        `field "${key}" must be a list of strings, got ${describe(node)}`,
      );
      return undefined;
    }
    const out: string[] = [];
    for (const item of node.items) {
      if (item.kind !== "scalar" || item.value === null) {
        this.opts.diags.error(
          item.pos,
          this.opts.scope,
          `items of "${key}" must be strings, got ${describe(item)}`,
        );
        continue;
      }
      const s = this.resolve(item);
      if (s) out.push(s.text);
    }
    // Items that failed are reported already; only an empty list is "missing".
    if (required && node.items.length === 0) this.missing(key);
    return out;
  }

  stringMap(key: string): Record<string, string> | undefined {
    const node = this.take(key);
    if (node === undefined || (node.kind === "scalar" && node.value === null)) return undefined;
    if (node.kind !== "map") {
      this.opts.diags.error(
        node.pos,
        this.opts.scope,
        `field "${key}" must be a map of strings, got ${describe(node)}`,
      );
      return undefined;
    }
    const out: Record<string, string> = {};
    for (const pair of uniquePairs(node, this.opts.scope, this.opts.diags)) {
      if (pair.value.kind !== "scalar") {
        this.opts.diags.error(
          pair.value.pos,
          this.opts.scope,
          `values of "${key}" must be strings, got ${describe(pair.value)}`,
        );
        continue;
      }
      const s = this.resolve(pair.value);
      if (s) out[pair.key] = s.text;
    }
    return out;
  }

  missing(key: string): void {
    this.opts.diags.error(this.opts.ownerPos, this.opts.scope, `missing required field "${key}"`);
  }

  /** Reports every field no reader method asked for. */
  warnUnknown(known: readonly string[]): void {
    for (const [key, pair] of this.pairs) {
      if (this.used.has(key)) continue;
      const hint = closest(key, known);
      this.opts.diags.warning(
        pair.keyPos,
        this.opts.scope,
        `unknown field "${key}"${hint ? ` (did you mean "${hint}"?)` : ""}`,
      );
    }
  }

  /** Marks a field as handled without reading it (to report it specially). */
  skip(key: string): YPair | undefined {
    this.used.add(key);
    return this.pairs.get(key);
  }

  private take(key: string): YNode | undefined {
    this.used.add(key);
    return this.pairs.get(key)?.value;
  }

  /** undefined: not written; null: written but unusable (already reported). */
  private scalar(key: string, expected: string): Scalarish | null | undefined {
    const node = this.take(key);
    if (node === undefined) return undefined;
    if (node.kind !== "scalar") {
      this.opts.diags.error(
        node.pos,
        this.opts.scope,
        `field "${key}" must be ${expected}, got ${describe(node)}`,
      );
      return null;
    }
    return this.resolve(node);
  }

  private resolve(node: YScalar): Scalarish | null {
    if (typeof node.value !== "string") {
      const text = node.value === null ? "" : (node.raw ?? String(node.value));
      return { value: node.value, text, pos: node.pos, unresolved: false };
    }
    const lookup = this.opts.vars ?? (() => undefined);
    const r = substitute(node.value, lookup);
    if (!r.ok) {
      this.opts.diags.error(node.pos, this.opts.scope, r.error);
      return null;
    }
    const text = r.value === null ? "" : String(r.value);
    return { value: r.value, text, pos: node.pos, unresolved: r.unresolved.length > 0 };
  }

  private wrongType(key: string, s: Scalarish, expected: string): void {
    if (s.unresolved && this.opts.lenient) return;
    const got = s.value === null ? "null" : `${typeof s.value} ${JSON.stringify(s.value)}`;
    this.opts.diags.error(s.pos, this.opts.scope, `field "${key}" must be ${expected}, got ${got}`);
  }
}

/** A known name within edit distance 2 of `name`, to suggest for typos. */
export function closest(name: string, known: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = 3;
  for (const candidate of known) {
    const d = editDistance(name.toLowerCase(), candidate.toLowerCase());
    if (d < bestDistance) {
      best = candidate;
      bestDistance = d;
    }
  }
  return best;
}

function editDistance(a: string, b: string): number {
  if (Math.abs(a.length - b.length) > 2) return 3;
  let prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      row.push(Math.min((prev[j] ?? 0) + 1, (row[j - 1] ?? 0) + 1, (prev[j - 1] ?? 0) + cost));
    }
    prev = row;
  }
  return prev[b.length] ?? 0;
}
