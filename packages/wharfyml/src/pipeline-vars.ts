import type { PipelineDefinition } from "./definition.js";
import type { DiagnosticList } from "./diagnostics.js";
import { optionsPos } from "./diagnostics.js";
import { collectVariables, type VarSource } from "./variables.js";
import { substitute, type VarValue } from "./varsub.js";

export interface PipelineVarOptions {
  /** `-i key=value` values; strings are converted to the input's type. */
  inputs?: Readonly<Record<string, VarValue>>;
  /** The chosen environment; must be defined in the file (checked by the caller). */
  environment?: string;
}

/**
 * The variable sources a pipeline itself contributes, highest priority first: given
 * inputs, input defaults, the chosen environment's vars.
 */
export function pipelineVarSources(
  def: PipelineDefinition,
  opts: PipelineVarOptions,
  diags: DiagnosticList,
): VarSource[] {
  const given: Record<string, VarValue> = {};
  for (const [name, raw] of Object.entries(opts.inputs ?? {})) {
    const input = def.inputs.find((i) => i.name === name);
    if (!input) {
      diags.warning(optionsPos, "options", `input "${name}" is not declared under inputs:`);
      given[name] = raw;
      continue;
    }
    if (input.type === "number") {
      const n = typeof raw === "number" ? raw : Number(String(raw).trim());
      if (raw === null || String(raw).trim() === "" || !Number.isFinite(n))
        diags.error(optionsPos, "options", `input "${name}" must be a number, got ${JSON.stringify(raw)}`);
      else given[name] = n;
    } else if (input.type === "choice" && input.values && !input.values.includes(String(raw))) {
      diags.error(
        optionsPos,
        "options",
        `input "${name}" must be one of ${input.values.join(", ")}, got ${JSON.stringify(raw)}`,
      );
    } else given[name] = raw === null ? "" : String(raw);
  }
  const defaults: Record<string, VarValue> = {};
  for (const input of def.inputs) if (input.default !== undefined) defaults[input.name] = input.default;
  const sources: VarSource[] = [
    { name: "input", vars: given },
    { name: "input default", vars: defaults },
  ];
  const env = def.environments.find((e) => e.name === opts.environment);
  if (env) sources.push({ name: `environment ${env.name}`, vars: env.vars });
  return sources;
}

/** The values of password inputs (given or default): they must never be printed or stored. */
export function passwordValues(
  def: PipelineDefinition,
  inputs: Readonly<Record<string, VarValue>>,
): string[] {
  const out: string[] = [];
  for (const input of def.inputs) {
    if (input.type !== "password") continue;
    const value = Object.hasOwn(inputs, input.name) ? inputs[input.name] : input.default;
    if (value !== undefined && value !== null && String(value) !== "") out.push(String(value));
  }
  return out;
}

/**
 * Reports variable loops among an environment's vars and the input defaults, which are
 * known without any outside source, so `wharf lint` catches them.
 */
export function checkEnvironmentLoops(def: PipelineDefinition, diags: DiagnosticList): void {
  const defaults: Record<string, VarValue> = {};
  for (const input of def.inputs) if (input.default !== undefined) defaults[input.name] = input.default;
  for (const env of def.environments) {
    const vars = collectVariables([
      { name: "env", vars: env.vars },
      { name: "defaults", vars: defaults },
    ]);
    for (const [name, value] of Object.entries(env.vars)) {
      if (typeof value !== "string") continue;
      const r = substitute(value, vars.lookup);
      const pos = env.varPos[name] ?? env.pos;
      if (!r.ok) diags.error(pos, `environments/${env.name}`, `${name}: ${r.error}`);
    }
  }
}
