import type { Plan } from "@wharf/wharfyml";
import type { Command } from "commander";
import { collectInput, maskSecrets, resolveUserPath, writeErr, writeOut } from "../invocation.js";
import { jsonDiagnostic } from "./lint.js";

interface PlanFlags {
  stage?: string;
  env?: string;
  input?: Record<string, string>;
  json?: boolean;
}

/** `wharf plan [dir]`: the resolved plan after filtering and variable substitution. */
export function register(program: Command): void {
  program
    .command("plan")
    .description(
      "print the resolved plan (stages, steps, fields with defaults) after filtering and substitution",
    )
    .argument("[dir]", "a directory holding .wharf-ci.yml, or the file itself", ".")
    .option("-s, --stage <name>", "run only this stage")
    .option("-e, --env <name>", "the environment to run in")
    .option("-i, --input <key=value>", "set an input (repeatable)", collectInput)
    .option("--json", "print the plan as JSON")
    .action(async (target: string, flags: PlanFlags) => {
      const { formatDiagnostic, loadPipeline } = await import("@wharf/wharfyml");
      const loaded = await loadPipeline(resolveUserPath(target), {
        stage: flags.stage,
        environment: flags.env,
        inputs: flags.input ?? {},
      });
      const { plan, diagnostics } = loaded;
      if (!plan) {
        if (flags.json) writeOut(JSON.stringify({ errors: diagnostics.map(jsonDiagnostic) }));
        else for (const d of diagnostics) writeErr(formatDiagnostic(d));
        process.exitCode = 1;
        return;
      }
      for (const d of diagnostics) writeErr(formatDiagnostic(d));
      const shown = maskSecrets(planJson(plan), plan.secrets);
      writeOut(flags.json ? JSON.stringify(shown, null, 2) : planText(shown, loaded.file));
    });
}

/** `{"stages":[{"name","runIf","steps":[{"id","name","type","spec"}]}]}` plus the environment. */
export function planJson(plan: Plan) {
  return {
    environment: plan.environment,
    stages: plan.stages.map((stage) => ({
      name: stage.name,
      runIf: stage.runIf,
      steps: stage.steps.map((step) => ({
        id: step.id,
        name: step.name,
        type: step.type,
        spec: step.spec,
        ...(step.timeoutMs !== undefined ? { timeoutMs: step.timeoutMs } : {}),
        retries: step.retries,
        ...(step.artifacts.length ? { artifacts: step.artifacts } : {}),
      })),
    })),
  };
}

function planText(plan: ReturnType<typeof planJson>, file: string): string {
  const out = [`${file} (environment: ${plan.environment ?? "none"})`];
  if (plan.stages.length === 0) out.push("no stages to run");
  for (const stage of plan.stages) {
    out.push(`stage ${stage.name} (run-if: ${stage.runIf})`);
    for (const step of stage.steps) {
      out.push(`  ${step.id}. ${step.name} [${step.type}]`);
      const fields: Record<string, unknown> = { ...step.spec };
      if (step.timeoutMs !== undefined) fields.timeoutMs = step.timeoutMs;
      if (step.retries) fields.retries = step.retries;
      if (step.artifacts) fields.artifacts = step.artifacts;
      for (const [key, value] of Object.entries(fields)) out.push(`       ${key}: ${showValue(value)}`);
    }
  }
  return out.join("\n");
}

function showValue(value: unknown): string {
  return typeof value === "string" ? value : JSON.stringify(value);
}
