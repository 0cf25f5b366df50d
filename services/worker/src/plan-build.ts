import { formatDiagnostic, loadPipeline, type Plan } from "@wharf/wharfyml";
import type { WorkerOptions } from "./options.js";

export interface PlannedBuild {
  plan: Plan;
  /** Formatted `LINE:COL scope: message` lines; non-empty means the build cannot run. */
  errors: string[];
  warnings: string[];
}

/** Loads `.wharf-ci.yml` from the checkout and plans it with the build's stage, environment and inputs. */
export async function planBuild(sourceDir: string, opts: WorkerOptions): Promise<PlannedBuild> {
  const loaded = await loadPipeline(sourceDir, {
    ...(opts.stage ? { stage: opts.stage } : {}),
    ...(opts.environment ? { environment: opts.environment } : {}),
    inputs: opts.inputs,
    build: { ref: opts.buildId, ...(opts.projectId ? { projectId: opts.projectId } : {}) },
  });
  const errors = loaded.diagnostics.filter((d) => d.severity === "error").map(formatDiagnostic);
  const warnings = loaded.diagnostics.filter((d) => d.severity === "warning").map(formatDiagnostic);
  const plan = loaded.plan ?? { stages: [], environment: null, secrets: [] };
  return { plan, errors, warnings };
}
