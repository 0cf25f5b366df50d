import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));

/** Root of this monorepo checkout (the worker runs from source via tsx). */
export const repoRoot = path.resolve(here, "../../../..");

/**
 * `node --import tsx <repo>/packages/cli/src/main.ts worker serve`, with absolute
 * paths so it works from any cwd and inside a container that bind-mounts the
 * repo at the same path.
 */
export function defaultWorkerCommand(nodeBinary = process.execPath): string[] {
  const tsxLoader = pathToFileURL(createRequire(import.meta.url).resolve("tsx")).href;
  return [
    nodeBinary,
    "--import",
    tsxLoader,
    path.join(repoRoot, "packages/cli/src/main.ts"),
    "worker",
    "serve",
  ];
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
