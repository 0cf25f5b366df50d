/**
 * Problems found in a `.wharf-ci.yml` (or a `.wharf-vars.yml`), each with the position it
 * is about. Nothing in this package throws on bad input: every problem becomes one of these.
 */

/** 1-based line and column. Line 0 means "not in the file" (e.g. a bad `--stage` option). */
export interface Pos {
  line: number;
  column: number;
}

export type Severity = "error" | "warning";

export interface Diagnostic {
  line: number;
  column: number;
  /** Where in the pipeline: `stage/step/type`, `inputs/NAME`, `environments/NAME`, `document` or `options`. */
  scope: string;
  message: string;
  severity: Severity;
  /** Set when the problem is in another file than the pipeline (a `.wharf-vars.yml`). */
  file?: string;
}

/** Position used for problems with the caller's options rather than with the file. */
export const optionsPos: Pos = { line: 0, column: 0 };

/** Collects diagnostics while walking a document; `sorted()` orders them by position. */
export class DiagnosticList {
  readonly items: Diagnostic[] = [];

  error(pos: Pos, scope: string, message: string): void {
    this.items.push({ line: pos.line, column: pos.column, scope, message, severity: "error" });
  }

  warning(pos: Pos, scope: string, message: string): void {
    this.items.push({ line: pos.line, column: pos.column, scope, message, severity: "warning" });
  }

  add(diagnostics: readonly Diagnostic[]): void {
    this.items.push(...diagnostics);
  }

  hasErrors(): boolean {
    return this.items.some((d) => d.severity === "error");
  }

  sorted(): Diagnostic[] {
    return sortDiagnostics(this.items);
  }
}

/** Orders by file (the pipeline itself first), then line, then column; stable otherwise. */
export function sortDiagnostics(diagnostics: readonly Diagnostic[]): Diagnostic[] {
  return [...diagnostics].sort(
    (a, b) => (a.file ?? "").localeCompare(b.file ?? "") || a.line - b.line || a.column - b.column,
  );
}

export function hasErrors(diagnostics: readonly Diagnostic[]): boolean {
  return diagnostics.some((d) => d.severity === "error");
}

/** `LINE:COL SCOPE: MESSAGE`, with warnings marked, as `wharf lint` prints them. */
export function formatDiagnostic(d: Diagnostic): string {
  const where = d.file ? `${d.file}:${d.line}:${d.column}` : `${d.line}:${d.column}`;
  const mark = d.severity === "warning" ? "warning: " : "";
  return `${where} ${d.scope}: ${mark}${d.message}`;
}
