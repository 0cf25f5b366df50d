import type { VarLookup, VarValue } from "./varsub.js";

/** A named set of variables, e.g. `{ name: "git", vars: { GIT_BRANCH: "main" } }`. */
export interface VarSource {
  /** Where the values come from, shown by `wharf vars` ("input", "environment prod", a file path...). */
  name: string;
  vars: Readonly<Record<string, VarValue>>;
}

export interface ResolvedVariable {
  name: string;
  value: VarValue;
  /** The source that wins (the first one, in priority order, that defines the name). */
  source: string;
  /** Lower-priority sources that define the same name, in priority order. */
  shadowed: { source: string; value: VarValue }[];
}

/** Variables merged from sources in priority order: the first source that defines a name wins. */
export interface VariableSet {
  lookup: VarLookup;
  /** The winning source of a name, or undefined. */
  sourceOf(name: string): string | undefined;
  /** Every variable, sorted by name. */
  list(): ResolvedVariable[];
}

/**
 * Merges sources given in priority order (highest first). Wharf's order is: `-i` inputs,
 * input defaults, the chosen environment's vars, BUILD_REF/project id, `WHARF_VAR_*`
 * environment variables, `.wharf-vars.yml` files (nearest first), git facts.
 */
export function collectVariables(sources: readonly VarSource[]): VariableSet {
  const table = new Map<string, ResolvedVariable>();
  for (const source of sources) {
    for (const [name, value] of Object.entries(source.vars)) {
      const existing = table.get(name);
      if (existing) existing.shadowed.push({ source: source.name, value });
      else table.set(name, { name, value, source: source.name, shadowed: [] });
    }
  }
  return {
    lookup: (name) => table.get(name)?.value,
    sourceOf: (name) => table.get(name)?.source,
    list: () => [...table.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)),
  };
}
