import { LOGGING_SETTINGS, wharfCommand } from "@wharf/config";
import { WORKER_ENV } from "@wharf/proto/worker-env";

/**
 * `node --enable-source-maps <wharf> worker serve`: the compiled wharf program this
 * provisioner runs from, with absolute paths so it works from any cwd.
 */
export function defaultWorkerCommand(nodeBinary = process.execPath): string[] {
  return [...wharfCommand(nodeBinary), "worker", "serve"];
}

// Provisioner settings and the build parameters of whoever started us must not
// leak into a worker: it gets exactly its own build's parameters (the worker env contract's
// keys), and git's own settings (GIT_*) only from its build.
const CONTRACT_KEYS = new Set<string>([...Object.values(WORKER_ENV), "BUILD_REF"]);
const PRIVATE_ENV = /^(WHARF_|DATABASE_URL$|PG[A-Z]+$|GIT_)/;

/** The parent's env minus anything that configures a provisioner or a build. */
export function inheritedEnv(env: NodeJS.ProcessEnv = process.env): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) {
    if (v === undefined || CONTRACT_KEYS.has(k)) continue;
    if (!PRIVATE_ENV.test(k) || k === LOGGING_SETTINGS.level.env) out[k] = v;
  }
  return out;
}
