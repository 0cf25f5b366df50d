import { parse as parseYaml } from "yaml";

/** VARS is not a map of input values; the message never quotes the text (values may be secrets). */
export class BuildVarsError extends Error {
  override readonly name = "BuildVarsError";
}

/**
 * VARS, the build's input values, as wharf-api sends them to the provisioner (a query
 * parameter) and the provisioner to the worker (an environment variable): a JSON or YAML map
 * (YAML parses JSON too). Values become strings: text as is, `null` as "", anything else as
 * JSON. Empty text is no values. The one parser of that contract, for both ends.
 */
export function parseBuildVars(text: string | undefined): Record<string, string> {
  if (text === undefined || text.trim() === "") return {};
  let value: unknown;
  try {
    // logLevel "error": no process warning that would print the values to stderr.
    value = parseYaml(text, { maxAliasCount: 50, logLevel: "error" });
  } catch (err) {
    // Only the first line: the rest of a YAML error quotes the source text.
    throw new BuildVarsError(`not a valid JSON or YAML map: ${(err as Error).message.split("\n")[0]}`, {
      cause: err,
    });
  }
  if (value === null || value === undefined) return {};
  if (typeof value !== "object" || Array.isArray(value))
    throw new BuildVarsError("must be a map of input values");
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
    out[k] = typeof v === "string" ? v : v === null ? "" : JSON.stringify(v);
    // YAML's "\0" escape makes one; a database cannot store it.
    if (`${k}${out[k]}`.includes("\u0000")) throw new BuildVarsError("must not contain a NUL character");
  }
  return out;
}
