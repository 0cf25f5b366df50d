import path from "node:path";
import type { Env } from "@wharf/config";
import { readSettings } from "@wharf/config/settings";
import type { DevStackOptions } from "./dev-stack.js";
import { DEV_STACK_SETTINGS } from "./settings.js";

/** `wharf up`'s one reading of the environment: DEV_STACK_SETTINGS (docs/settings.md). */
export function compileDevStackOptions(
  env: Env,
  flags: { backend: "local" | "docker"; host: string },
  cwd = process.cwd(),
): DevStackOptions {
  const s = readSettings(DEV_STACK_SETTINGS, env);
  return {
    dataDir: path.resolve(cwd, s.dataDir),
    backend: flags.backend,
    host: flags.host,
    sinkPort: s.sinkPort,
    provisionerPort: s.provisionerPort,
    aggregatorPort: s.aggregatorPort,
    env: env as NodeJS.ProcessEnv,
  };
}
