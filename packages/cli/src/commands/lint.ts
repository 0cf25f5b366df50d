import { readFile } from "node:fs/promises";
import type { Diagnostic } from "@wharf/wharfyml";
import type { Command } from "commander";
import { resolveUserPath, writeOut } from "../invocation.js";

/** `wharf lint [path]`: every problem in a `.wharf-ci.yml`, one per line; exit 1 on errors. */
export function register(program: Command): void {
  program
    .command("lint")
    .description("check a .wharf-ci.yml and print every problem with its position")
    .argument("[path]", "a .wharf-ci.yml file or a directory holding one", ".")
    .option("--json", 'print {"errors":[{line,column,scope,message,severity}]}')
    .action(async (target: string, opts: { json?: boolean }) => {
      const { formatDiagnostic, hasErrors } = await import("@wharf/wharfyml");
      const diagnostics = await lintFile(resolveUserPath(target));
      if (opts.json) writeOut(JSON.stringify({ errors: diagnostics.map(jsonDiagnostic) }));
      else for (const d of diagnostics) writeOut(formatDiagnostic(d));
      process.exitCode = hasErrors(diagnostics) ? 1 : 0;
    });
}

async function lintFile(target: string): Promise<Diagnostic[]> {
  const { lintPipeline, resolvePipelineFile } = await import("@wharf/wharfyml");
  const file = await resolvePipelineFile(target);
  try {
    return lintPipeline(await readFile(file, "utf8"));
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
    return [
      { line: 0, column: 0, scope: "file", message: `cannot read ${file}: ${code}`, severity: "error" },
    ];
  }
}

/** The documented JSON shape, in a fixed key order. */
export function jsonDiagnostic(d: Diagnostic) {
  return {
    line: d.line,
    column: d.column,
    scope: d.scope,
    message: d.message,
    severity: d.severity,
    ...(d.file ? { file: d.file } : {}),
  };
}
