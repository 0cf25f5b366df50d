import path from "node:path";
import { type Env, envInt, envString } from "@wharf/config";
import type { DevStackOptions } from "./dev-stack.js";

/**
 * `wharf up`'s one reading of the environment. Ports default to the services' own
 * (dev sink 5001, provisioner 5009, aggregator 5008); 0 picks free ones.
 *
 * | env | default |
 * | --- | --- |
 * | WHARF_DATA_DIR | .wharf |
 * | WHARF_DEV_SINK_PORT | 5001 |
 * | WHARF_PROVISIONER_PORT | 5009 |
 * | WHARF_AGGREGATOR_PORT | 5008 |
 */
export function compileDevStackOptions(
  env: Env,
  flags: { backend: "local" | "docker"; host: string },
  cwd = process.cwd(),
): DevStackOptions {
  return {
    dataDir: path.resolve(cwd, envString(env, "WHARF_DATA_DIR", ".wharf")),
    backend: flags.backend,
    host: flags.host,
    sinkPort: envInt(env, "WHARF_DEV_SINK_PORT", 5001),
    provisionerPort: envInt(env, "WHARF_PROVISIONER_PORT", 5009),
    aggregatorPort: envInt(env, "WHARF_AGGREGATOR_PORT", 5008),
    env: env as NodeJS.ProcessEnv,
  };
}
