import { execFileSync } from "node:child_process";
import path from "node:path";
import { dockerAvailable, ensureBusyboxImage, startPostgres } from "@wharf/testkit";
import type { TestProject } from "vitest/node";

/**
 * Runs once per `vitest run`: builds the local busybox image when Docker answers and
 * starts one throwaway PostgreSQL cluster whose URL tests read with inject("pgUrl").
 * Each test file makes its own database in it (see @wharf/db's test helpers). First it
 * compiles the workspace (`pnpm build`): tests that start wharf as a process run the
 * compiled CLI, as users do, and it must be this checkout's.
 */
export default async function setup(project: TestProject) {
  execFileSync(process.execPath, [path.join(import.meta.dirname, "../scripts/build.mjs")], {
    stdio: "inherit",
  });
  if (await dockerAvailable()) await ensureBusyboxImage();
  else if (process.env.WHARF_REQUIRE_DOCKER === "1")
    throw new Error("WHARF_REQUIRE_DOCKER=1 but Docker is not running");
  const pg = await startPostgres();
  project.provide("pgUrl", pg.url);
  process.env.WHARF_TEST_PG_URL = pg.url;
  return async () => {
    await pg.stop();
  };
}

declare module "vitest" {
  export interface ProvidedContext {
    pgUrl: string;
  }
}
