import { readFile, stat } from "node:fs/promises";
import path from "node:path";
import type { Diagnostic } from "./diagnostics.js";
import { sortDiagnostics } from "./diagnostics.js";
import { type PlanOptions, type PlanResult, planPipeline } from "./planner.js";
import { collectVariables } from "./variables.js";
import { type HostVarOptions, hostVarSources } from "./vars-sources.js";

export const pipelineFileName = ".wharf-ci.yml";

export interface LoadOptions extends Omit<PlanOptions, "vars" | "secrets">, Omit<HostVarOptions, "dir"> {}

export interface LoadedPipeline extends PlanResult {
  /** Absolute path of the pipeline file. */
  file: string;
  /** Its directory (where `.wharf-vars.yml` lookup starts and git facts come from). */
  dir: string;
  /** The file's text, or null when it could not be read. */
  text: string | null;
}

/** `dir/.wharf-ci.yml` for a directory, the path itself otherwise. */
export async function resolvePipelineFile(pathOrDir: string): Promise<string> {
  const abs = path.resolve(pathOrDir);
  try {
    if ((await stat(abs)).isDirectory()) return path.join(abs, pipelineFileName);
  } catch {
    // a missing path is reported when reading it
  }
  return abs;
}

/**
 * Reads a pipeline file (or `dir/.wharf-ci.yml`), gathers variables from the host
 * (environment, `.wharf-vars.yml` files, git) and plans it. Never throws: an unreadable
 * file is a diagnostic at line 0.
 */
export async function loadPipeline(pathOrDir: string, options: LoadOptions = {}): Promise<LoadedPipeline> {
  const file = await resolvePipelineFile(pathOrDir);
  const dir = path.dirname(file);
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (err) {
    const diagnostic: Diagnostic = {
      line: 0,
      column: 0,
      scope: "file",
      message: `cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
      severity: "error",
    };
    return { file, dir, text: null, plan: null, diagnostics: [diagnostic], variables: collectVariables([]) };
  }
  const host = await hostVarSources({ ...options, dir });
  const result = planPipeline(text, { ...options, vars: host.sources, secrets: host.secrets });
  return {
    ...result,
    file,
    dir,
    text,
    diagnostics: sortDiagnostics([...result.diagnostics, ...host.diagnostics]),
  };
}
