import { type PipelineDefinition, readDefinition, type StageDef, type StepDef } from "./definition.js";
import { type Diagnostic, DiagnosticList, optionsPos } from "./diagnostics.js";
import { FieldReader } from "./field-reader.js";
import { checkEnvironmentLoops, passwordValues, pipelineVarSources } from "./pipeline-vars.js";
import type { Plan, PlanStep } from "./plan.js";
import { extensionFields, stepTypeSchemas } from "./step-types.js";
import { collectVariables, type VariableSet, type VarSource } from "./variables.js";
import type { VarLookup, VarValue } from "./varsub.js";
import { parseYamlTree } from "./yaml-tree.js";

export interface PlanOptions {
  /** Run only this stage (`--stage`). */
  stage?: string;
  /** The chosen environment (`--env`); stages with `environments:` run only when it is listed. */
  environment?: string;
  /** Input values (`-i key=value`); strings are converted to the input's declared type. */
  inputs?: Readonly<Record<string, VarValue>>;
  /**
   * Sources below the pipeline's own (inputs, input defaults, environment), highest
   * priority first: build facts, `WHARF_VAR_*`, `.wharf-vars.yml` files, git facts.
   * `loadPipeline` gathers these from the host.
   */
  vars?: readonly VarSource[];
  /** Extra values to keep secret (e.g. `WHARF_SECRET_*` environment values). */
  secrets?: readonly string[];
}

export interface PlanResult {
  /** Null when any diagnostic is an error. */
  plan: Plan | null;
  /** Sorted by position; warnings included. */
  diagnostics: Diagnostic[];
  /** Every variable the plan could use, with its source. */
  variables: VariableSet;
}

/**
 * Parses `.wharf-ci.yml` text into its structure (inputs, environments, stages, steps).
 * Step fields are not checked here; `lintPipeline` does that. Never throws.
 */
export function parsePipeline(text: string): { doc: PipelineDefinition | null; diagnostics: Diagnostic[] } {
  const diags = new DiagnosticList();
  const doc = readDocument(text, diags);
  return { doc, diagnostics: diags.sorted() };
}

/**
 * Every problem in the file, sorted by position, without choosing a stage or environment
 * and without outside variables: values that still hold `${...}` are not type-checked.
 * Never throws.
 */
export function lintPipeline(text: string): Diagnostic[] {
  const diags = new DiagnosticList();
  const def = readDocument(text, diags);
  if (def) {
    for (const stage of def.stages) for (const step of stage.steps) decodeStep(step, 0, null, true, diags);
  }
  return diags.sorted();
}

/**
 * Parses, validates, filters (stage, environment) and substitutes variables, producing
 * the plan executors run. Steps of stages that are filtered out are still checked, as
 * in `lintPipeline`. Never throws.
 */
export function planPipeline(text: string, options: PlanOptions = {}): PlanResult {
  const diags = new DiagnosticList();
  const def = readDocument(text, diags);
  if (!def)
    return { plan: null, diagnostics: diags.sorted(), variables: collectVariables(options.vars ?? []) };

  const environment = checkEnvironment(def, options.environment, diags);
  const sources = [
    ...pipelineVarSources(def, { inputs: options.inputs, environment: environment ?? undefined }, diags),
    ...(options.vars ?? []),
  ];
  const variables = collectVariables(sources);
  const selected = new Set(selectStages(def, options.stage, environment, diags));

  const stages: Plan["stages"] = [];
  let nextId = 1;
  for (const stage of def.stages) {
    const keep = selected.has(stage);
    const steps: PlanStep[] = [];
    for (const step of stage.steps) {
      const planned = decodeStep(step, keep ? nextId : 0, variables.lookup, !keep, diags);
      if (keep) nextId++;
      if (keep && planned) steps.push(planned);
    }
    if (keep) stages.push({ name: stage.name, runIf: stage.runIf, steps });
  }
  if (selected.size === 0 && !diags.hasErrors()) diags.warning(optionsPos, "options", "no stages to run");

  const secrets = [...passwordValues(def, options.inputs ?? {}), ...(options.secrets ?? [])].filter(
    (s) => s !== "",
  );
  const plan = diags.hasErrors()
    ? null
    : {
        stages,
        environment,
        secrets: [...new Set(secrets)],
        ...(def.timeoutMs ? { timeoutMs: def.timeoutMs } : {}),
      };
  return { plan, diagnostics: diags.sorted(), variables };
}

function readDocument(text: string, diags: DiagnosticList): PipelineDefinition | null {
  const parsed = parseYamlTree(typeof text === "string" ? text : String(text));
  diags.add(parsed.diagnostics);
  if (!parsed.doc) return null;
  const def = readDefinition(parsed.doc, diags);
  checkEnvironmentLoops(def, diags);
  return def;
}

function checkEnvironment(
  def: PipelineDefinition,
  name: string | undefined,
  diags: DiagnosticList,
): string | null {
  if (name === undefined || name === "") return null;
  if (def.environments.some((e) => e.name === name)) return name;
  const known = def.environments.map((e) => e.name);
  diags.error(
    optionsPos,
    "options",
    `unknown environment "${name}" (${known.length ? `defined: ${known.join(", ")}` : "the file defines none"})`,
  );
  return null;
}

/** Wharf's filter: a stage with `environments:` runs only when the chosen one is listed. */
function selectStages(
  def: PipelineDefinition,
  stageName: string | undefined,
  environment: string | null,
  diags: DiagnosticList,
): StageDef[] {
  const runs = (s: StageDef) =>
    s.environments === null || (environment !== null && s.environments.includes(environment));
  if (stageName === undefined || stageName === "") return def.stages.filter(runs);
  const stage = def.stages.find((s) => s.name === stageName);
  if (!stage) {
    diags.error(
      optionsPos,
      "options",
      `unknown stage "${stageName}" (stages: ${def.stages.map((s) => s.name).join(", ")})`,
    );
    return [];
  }
  if (!runs(stage)) {
    const where = environment === null ? "without an environment" : `in environment "${environment}"`;
    diags.error(
      optionsPos,
      "options",
      `stage "${stageName}" does not run ${where} (its environments: ${stage.environments?.join(", ")})`,
    );
    return [];
  }
  return [stage];
}

function decodeStep(
  step: StepDef,
  id: number,
  vars: VarLookup | null,
  lenient: boolean,
  diags: DiagnosticList,
): PlanStep | null {
  if (step.type === null) return null;
  const scope = `${step.stage}/${step.name}/${step.type}`;
  const r = new FieldReader(step.body, { scope, ownerPos: step.typePos, diags, vars, lenient });
  const schema = stepTypeSchemas[step.type];
  const spec = schema.read(r, { name: step.name });
  const timeoutMs = r.durationMs("timeout");
  const retries = r.int("retries", 0) ?? 0;
  let artifacts: string[] = [];
  let cache: string[] = [];
  if (step.type === "container") {
    artifacts = readArtifacts(r, scope, diags);
    cache = readCachePaths(r, scope, diags);
  } else {
    const pair = r.skip("artifacts");
    if (pair) diags.warning(pair.keyPos, scope, "artifacts are only collected from container steps; ignored");
    const cachePair = r.skip("cache");
    if (cachePair)
      diags.warning(
        cachePair.keyPos,
        scope,
        "cache is kept only for container steps (a docker step has the engine's layer cache); ignored",
      );
  }
  r.warnUnknown([...schema.fields, ...extensionFields]);
  const common = {
    id,
    name: step.name,
    stage: step.stage,
    retries,
    artifacts,
    ...(timeoutMs ? { timeoutMs } : {}),
    ...(cache.length > 0 ? { cache } : {}),
  };
  return { ...common, type: step.type, spec } as PlanStep;
}

/**
 * `cache:` (our extension): workspace paths (directories or files, no globs) restored before
 * the step and saved after it succeeded, kept per project and branch; see the README.
 */
function readCachePaths(r: FieldReader, scope: string, diags: DiagnosticList): string[] {
  const paths = r.stringList("cache") ?? [];
  const pos = r.keyPos("cache") ?? r.map.pos;
  const ok: string[] = [];
  for (const p of paths) {
    const parts = p.split(/[\\/]/).filter((s) => s !== "" && s !== ".");
    if (p.startsWith("/") || parts.includes("..") || parts.length === 0)
      diags.error(
        pos,
        scope,
        `cache path "${p}" must be a directory or file inside the workspace (relative, no "..")`,
      );
    else if (/[*?[\]{}]/.test(p))
      diags.error(pos, scope, `cache path "${p}" must be a plain path; globs are not expanded`);
    else if (ok.includes(parts.join("/"))) diags.warning(pos, scope, `cache path "${p}" is listed twice`);
    else ok.push(parts.join("/"));
  }
  return ok;
}

function readArtifacts(r: FieldReader, scope: string, diags: DiagnosticList): string[] {
  const globs = r.stringList("artifacts") ?? [];
  const pos = r.keyPos("artifacts");
  for (const glob of globs) {
    if (glob.startsWith("/") || glob.split(/[\\/]/).includes("..")) {
      diags.error(
        pos ?? r.map.pos,
        scope,
        `artifact glob "${glob}" must stay inside the workspace (relative, no "..")`,
      );
    }
  }
  return globs.filter((g) => !g.startsWith("/") && !g.split(/[\\/]/).includes(".."));
}
