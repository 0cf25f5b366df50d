import { parseDurationMs } from "@wharf/config/env";
import type { DiagnosticList, Pos } from "./diagnostics.js";
import { closest, describe, uniquePairs } from "./field-reader.js";
import { type InputDef, readInputs } from "./inputs.js";
import type { RunIf, StepType } from "./plan.js";
import { isStepType, stepTypeNames } from "./step-types.js";
import type { VarValue } from "./varsub.js";
import type { YMap, YNode } from "./yaml-tree.js";

/**
 * The structure of a `.wharf-ci.yml` before variables are substituted: what is declared
 * where. Step bodies stay as YAML nodes because variables may change their types.
 */
export interface PipelineDefinition {
  inputs: InputDef[];
  environments: EnvironmentDef[];
  /** In declaration order. */
  stages: StageDef[];
  /**
   * `timeout:` at the top (our extension): the whole build's limit, which may only lower the
   * operator's (WHARF_BUILD_TIMEOUT). A `timeout:` holding a map is a stage of that name, as
   * in wharf-cmd, where every other top-level key is a stage.
   */
  timeoutMs?: number;
  timeoutPos?: Pos;
}

export interface EnvironmentDef {
  name: string;
  pos: Pos;
  vars: Record<string, VarValue>;
  varPos: Record<string, Pos>;
}

export interface StageDef {
  name: string;
  pos: Pos;
  /** `environments:` of the stage, or null when the stage runs in every environment. */
  environments: string[] | null;
  runIf: RunIf;
  steps: StepDef[];
}

export interface StepDef {
  name: string;
  stage: string;
  pos: Pos;
  /** Null when the step has no valid type (already reported). */
  type: StepType | null;
  typePos: Pos;
  /** The map under the step type key (empty when written as `container:` with no value). */
  body: YMap;
}

const runIfValues: readonly RunIf[] = ["success", "fail", "always"];

/** The top-level key of the build's timeout (see PipelineDefinition.timeoutMs). */
export const PIPELINE_TIMEOUT_KEY = "timeout";

/** The longest timer Node.js keeps (2^31-1 ms, about 24.8 days). */
const MAX_TIMEOUT_MS = 24 * 86_400_000;

/** `timeout: 30m` (or seconds): a positive duration, written as is (no variables: it bounds the whole run). */
function readPipelineTimeout(node: YNode, diags: DiagnosticList): number | undefined {
  if (node.kind === "scalar" && (typeof node.value === "string" || typeof node.value === "number")) {
    try {
      const ms = parseDurationMs(String(node.value));
      if (ms > MAX_TIMEOUT_MS) {
        diags.error(node.pos, "document", "timeout must be at most 576h (24 days)");
        return undefined;
      }
      if (ms > 0) return ms;
    } catch {
      // reported below
    }
  }
  diags.error(
    node.pos,
    "document",
    `timeout must be a positive duration such as 30s, 10m or 1h, got ${describe(node)}`,
  );
  return undefined;
}

/** Reads the pipeline structure out of a parsed document, reporting every problem found. */
export function readDefinition(root: YNode, diags: DiagnosticList): PipelineDefinition {
  const def: PipelineDefinition = { inputs: [], environments: [], stages: [] };
  if (root.kind !== "map") {
    diags.error(root.pos, "document", `a pipeline must be a map of stages, got ${describe(root)}`);
    return def;
  }
  const pairs = uniquePairs(root, "document", diags);
  const envPair = pairs.find((p) => p.key === "environments");
  if (envPair) def.environments = readEnvironments(envPair.value, diags);
  const inputsPair = pairs.find((p) => p.key === "inputs");
  if (inputsPair) def.inputs = readInputs(inputsPair.value, diags);
  const envNames = def.environments.map((e) => e.name);
  for (const pair of pairs) {
    if (pair.key === "environments" || pair.key === "inputs") continue;
    if (pair.key === PIPELINE_TIMEOUT_KEY && pair.value.kind !== "map") {
      const ms = readPipelineTimeout(pair.value, diags);
      if (ms !== undefined) {
        def.timeoutMs = ms;
        def.timeoutPos = pair.keyPos;
      }
      continue;
    }
    const stage = readStage(pair.key, pair.keyPos, pair.value, envNames, diags);
    if (stage) def.stages.push(stage);
  }
  if (def.stages.length === 0) diags.error(root.pos, "document", "the pipeline has no stages");
  return def;
}

function readEnvironments(node: YNode, diags: DiagnosticList): EnvironmentDef[] {
  if (node.kind !== "map") {
    diags.error(
      node.pos,
      "environments",
      `environments must be a map of environment names, got ${describe(node)}`,
    );
    return [];
  }
  const out: EnvironmentDef[] = [];
  for (const pair of uniquePairs(node, "environments", diags)) {
    const scope = `environments/${pair.key}`;
    const env: EnvironmentDef = { name: pair.key, pos: pair.keyPos, vars: {}, varPos: {} };
    out.push(env);
    const value = pair.value;
    if (value.kind === "scalar" && value.value === null) continue;
    if (value.kind !== "map") {
      diags.error(value.pos, scope, `an environment must be a map of variables, got ${describe(value)}`);
      continue;
    }
    for (const v of uniquePairs(value, scope, diags)) {
      if (v.value.kind !== "scalar") {
        diags.error(
          v.value.pos,
          scope,
          `variable "${v.key}" must be a string, number or boolean, got ${describe(v.value)}`,
        );
        continue;
      }
      env.vars[v.key] = v.value.value;
      env.varPos[v.key] = v.value.pos;
    }
  }
  return out;
}

function readStage(
  name: string,
  pos: Pos,
  node: YNode,
  envNames: readonly string[],
  diags: DiagnosticList,
): StageDef | null {
  if (node.kind === "scalar" && node.value === null) {
    diags.error(pos, name, "stage has no steps");
    return null;
  }
  if (node.kind !== "map") {
    diags.error(node.pos, name, `a stage must be a map of steps, got ${describe(node)}`);
    return null;
  }
  const stage: StageDef = { name, pos, environments: null, runIf: "success", steps: [] };
  for (const pair of uniquePairs(node, name, diags)) {
    if (pair.key === "environments")
      stage.environments = readStageEnvironments(pair.value, name, envNames, diags);
    else if (pair.key === "run-if") stage.runIf = readRunIf(pair.value, name, diags);
    else stage.steps.push(readStep(name, pair.key, pair.keyPos, pair.value, diags));
  }
  if (stage.steps.length === 0) diags.error(pos, name, "stage has no steps");
  return stage;
}

function readStageEnvironments(
  node: YNode,
  scope: string,
  envNames: readonly string[],
  diags: DiagnosticList,
): string[] {
  if (node.kind !== "seq") {
    diags.error(node.pos, scope, `environments must be a list of environment names, got ${describe(node)}`);
    return [];
  }
  const names: string[] = [];
  for (const item of node.items) {
    if (item.kind !== "scalar" || item.value === null) {
      diags.error(item.pos, scope, `environment names must be strings, got ${describe(item)}`);
      continue;
    }
    const name = String(item.value);
    if (!envNames.includes(name)) {
      const known = envNames.length ? `defined: ${envNames.join(", ")}` : "no environments are defined";
      diags.error(item.pos, scope, `undefined environment "${name}" (${known})`);
    }
    names.push(name);
  }
  return names;
}

function readRunIf(node: YNode, scope: string, diags: DiagnosticList): RunIf {
  const value = node.kind === "scalar" ? node.value : undefined;
  if (typeof value === "string" && (runIfValues as readonly string[]).includes(value)) return value as RunIf;
  diags.error(
    node.pos,
    scope,
    `invalid run-if ${node.kind === "scalar" ? JSON.stringify(node.value) : describe(node)} (expected success, fail or always)`,
  );
  return "success";
}

function readStep(stage: string, name: string, pos: Pos, node: YNode, diags: DiagnosticList): StepDef {
  const scope = `${stage}/${name}`;
  const step: StepDef = { name, stage, pos, type: null, typePos: pos, body: { kind: "map", pairs: [], pos } };
  if (node.kind !== "map") {
    if (node.kind === "scalar" && node.value === null) diags.error(pos, scope, "step has no step type");
    else diags.error(node.pos, scope, `a step must be a map with one step type, got ${describe(node)}`);
    return step;
  }
  const pairs = uniquePairs(node, scope, diags);
  const typed = pairs.filter((p) => isStepType(p.key));
  for (const p of pairs) {
    if (isStepType(p.key)) continue;
    const hint = closest(p.key, stepTypeNames);
    diags.error(
      p.keyPos,
      scope,
      `unknown step type "${p.key}"${hint ? ` (did you mean "${hint}"?)` : ` (expected one of ${stepTypeNames.join(", ")})`}`,
    );
  }
  if (typed.length === 0) {
    if (pairs.length === 0) diags.error(pos, scope, "step has no step type");
    return step;
  }
  if (typed.length > 1) {
    diags.error(
      pos,
      scope,
      `step has several step types (${typed.map((p) => p.key).join(", ")}); use exactly one`,
    );
    return step;
  }
  const typePair = typed[0]!;
  const body = typePair.value;
  step.type = typePair.key as StepType;
  step.typePos = typePair.keyPos;
  if (body.kind === "map") step.body = body;
  else if (!(body.kind === "scalar" && body.value === null)) {
    diags.error(
      body.pos,
      `${scope}/${typePair.key}`,
      `step type fields must be a map, got ${describe(body)}`,
    );
    step.type = null;
  } else step.body = { kind: "map", pairs: [], pos: typePair.keyPos };
  return step;
}
