import type { DiagnosticList, Pos } from "./diagnostics.js";
import { describe, uniquePairs } from "./field-reader.js";
import type { VarValue } from "./varsub.js";
import type { YNode, YScalar } from "./yaml-tree.js";

export type InputType = "string" | "password" | "number" | "choice";

/** One entry of the top-level `inputs:` list: a value the person starting a build may set. */
export interface InputDef {
  name: string;
  type: InputType;
  default?: VarValue;
  /** The allowed values of a `choice` input. */
  values?: string[];
  pos: Pos;
}

const inputTypes: readonly InputType[] = ["string", "password", "number", "choice"];
const inputFields = ["name", "type", "default", "values"];

/** Reads `inputs:`; each problem is reported and the offending input left out. */
export function readInputs(node: YNode, diags: DiagnosticList): InputDef[] {
  if (node.kind === "scalar" && node.value === null) return [];
  if (node.kind !== "seq") {
    diags.error(node.pos, "inputs", `inputs must be a list, got ${describe(node)}`);
    return [];
  }
  const out: InputDef[] = [];
  node.items.forEach((item, index) => {
    const input = readInput(item, index, diags);
    if (!input) return;
    const first = out.find((i) => i.name === input.name);
    if (first) {
      diags.error(
        input.pos,
        `inputs/${input.name}`,
        `duplicate input name "${input.name}" (first at ${first.pos.line}:${first.pos.column})`,
      );
      return;
    }
    out.push(input);
  });
  return out;
}

function readInput(node: YNode, index: number, diags: DiagnosticList): InputDef | null {
  if (node.kind !== "map") {
    diags.error(
      node.pos,
      `inputs/${index}`,
      `an input must be a map with name and type, got ${describe(node)}`,
    );
    return null;
  }
  const fields = new Map(uniquePairs(node, `inputs/${index}`, diags).map((p) => [p.key, p]));
  const nameNode = fields.get("name")?.value;
  const nameOk = nameNode?.kind === "scalar" && nameNode.value !== null && nameNode.value !== "";
  const name = nameOk ? String((nameNode as YScalar).value) : String(index);
  const scope = `inputs/${name}`;
  if (!nameNode) diags.error(node.pos, scope, `missing required field "name"`);
  else if (!nameOk)
    diags.error(nameNode.pos, scope, `field "name" must be a non-empty string, got ${describe(nameNode)}`);

  for (const [key, pair] of fields)
    if (!inputFields.includes(key)) diags.warning(pair.keyPos, scope, `unknown field "${key}"`);

  const typeNode = fields.get("type")?.value;
  if (!typeNode) {
    diags.error(node.pos, scope, `missing required field "type"`);
    return null;
  }
  const type = typeNode.kind === "scalar" ? typeNode.value : undefined;
  if (typeof type !== "string" || !(inputTypes as readonly string[]).includes(type)) {
    diags.error(
      typeNode.pos,
      scope,
      `unknown input type ${describe(typeNode)} (expected ${inputTypes.join(", ")})`,
    );
    return null;
  }
  const input: InputDef = { name, type: type as InputType, pos: node.pos };
  const defaultNode = fields.get("default")?.value;
  if (defaultNode && !(defaultNode.kind === "scalar" && defaultNode.value === null)) {
    input.default = readDefault(defaultNode, input.type, scope, diags);
  }
  const valuesNode = fields.get("values")?.value;
  if (input.type === "choice") {
    input.values = readValues(valuesNode, node.pos, scope, diags);
    if (input.default === undefined)
      diags.error(node.pos, scope, `a choice input needs a "default" from its values`);
    else if (input.values && !input.values.includes(String(input.default))) {
      diags.error(
        defaultNode?.pos ?? node.pos,
        scope,
        `default ${JSON.stringify(input.default)} is not one of the values (${input.values.join(", ")})`,
      );
    }
  } else if (valuesNode) {
    diags.warning(fields.get("values")?.keyPos ?? node.pos, scope, `"values" only applies to choice inputs`);
  }
  return nameOk ? input : null;
}

function readDefault(
  node: YNode,
  type: InputType,
  scope: string,
  diags: DiagnosticList,
): VarValue | undefined {
  if (node.kind !== "scalar") {
    diags.error(
      node.pos,
      scope,
      `field "default" must be a ${type === "number" ? "number" : "string"}, got ${describe(node)}`,
    );
    return undefined;
  }
  if (type === "number") {
    if (typeof node.value === "number") return node.value;
    diags.error(node.pos, scope, `field "default" of a number input must be a number, got ${describe(node)}`);
    return undefined;
  }
  // Text inputs keep numbers and booleans as written (`default: 1.0` is "1.0").
  return typeof node.value === "string" ? node.value : (node.raw ?? String(node.value));
}

function readValues(
  node: YNode | undefined,
  owner: Pos,
  scope: string,
  diags: DiagnosticList,
): string[] | undefined {
  if (!node) {
    diags.error(owner, scope, `missing required field "values" (a choice input lists its values)`);
    return undefined;
  }
  if (node.kind !== "seq" || node.items.length === 0) {
    diags.error(node.pos, scope, `field "values" must be a non-empty list, got ${describe(node)}`);
    return undefined;
  }
  const values: string[] = [];
  for (const item of node.items) {
    if (item.kind !== "scalar" || item.value === null) {
      diags.error(item.pos, scope, `values must be strings, got ${describe(item)}`);
      continue;
    }
    values.push(typeof item.value === "string" ? item.value : (item.raw ?? String(item.value)));
  }
  return values;
}
