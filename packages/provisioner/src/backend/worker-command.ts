import { wharfCommand } from "@wharf/config";

/**
 * `node --enable-source-maps <wharf> worker serve`: the compiled wharf program this
 * provisioner runs from, with absolute paths so it works from any cwd.
 */
export function defaultWorkerCommand(nodeBinary = process.execPath): string[] {
  return [...wharfCommand(nodeBinary), "worker", "serve"];
}

// Provisioner settings and the build parameters of whoever started us must not
// leak into a worker: it gets exactly its own build's parameters.
const PRIVATE_ENV =
  /^(WHARF_|DATABASE_URL$|PG[A-Z]+$|GIT_|VARS$|RUN_STAGES$|ENVIRONMENT$|BUILD_REF$|REPO_(NAME|GROUP|BRANCH)$)/;

/** The parent's env minus anything that configures a provisioner or a build. */
export function inheritedEnv(env: NodeJS.ProcessEnv = process.env): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) {
    if (v !== undefined && (!PRIVATE_ENV.test(k) || k === "WHARF_LOG_LEVEL")) out[k] = v;
  }
  return out;
}
