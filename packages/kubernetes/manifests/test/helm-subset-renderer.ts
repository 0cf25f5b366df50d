import fs from "node:fs";
import path from "node:path";
import { parse } from "yaml";

/**
 * No helm binary is available here (not packaged for Debian or npm), so the chart keeps to
 * a subset this renderer understands exactly as Helm would: `{{ .Values.a.b }}`,
 * `{{ .Values.a.b | quote }}`, `{{ .Release.Name }}` and `{{ .Release.Namespace }}`.
 * Anything else in a template is an error, so the chart cannot drift outside the subset.
 */
export function renderChart(
  chartDir: string,
  release: { name: string; namespace: string },
  overrides: Record<string, unknown> = {},
): string {
  const values = { ...parse(fs.readFileSync(path.join(chartDir, "values.yaml"), "utf8")), ...overrides };
  const lookup = (dotted: string): unknown => {
    let current: unknown = values;
    for (const part of dotted.split(".")) {
      if (current === null || typeof current !== "object" || !(part in current)) {
        throw new Error(`template refers to missing value .Values.${dotted}`);
      }
      current = (current as Record<string, unknown>)[part];
    }
    return current;
  };
  const dir = path.join(chartDir, "templates");
  return fs
    .readdirSync(dir)
    .filter((f) => f.endsWith(".yaml"))
    .sort()
    .map((file) =>
      fs
        .readFileSync(path.join(dir, file), "utf8")
        .replace(/\{\{-?\s*(.*?)\s*-?\}\}/g, (_all, expr: string) => {
          const m = /^\.Values\.([A-Za-z0-9_.]+)(\s*\|\s*quote)?$/.exec(expr);
          if (m) {
            const value = lookup(m[1]!);
            return m[2] ? JSON.stringify(String(value)) : String(value);
          }
          if (expr === ".Release.Name") return release.name;
          if (expr === ".Release.Namespace") return release.namespace;
          throw new Error(`${file}: template expression outside the supported subset: {{ ${expr} }}`);
        }),
    )
    .join("\n---\n");
}
