import { execFileSync } from "node:child_process";
import path from "node:path";
import { buildWharfImages, dockerAvailable, ensureBusyboxImage, startPostgres } from "@wharf/testkit";
import type { TestProject } from "vitest/node";

/**
 * Runs once per `vitest run`. Compiles the workspace (`pnpm build`): tests that start wharf
 * as a process run the compiled CLI, as users do, and it must be this checkout's. When Docker
 * answers, builds the three wharf images from it and the local busybox image. Starts one
 * throwaway PostgreSQL cluster whose URL tests read with inject("pgUrl"); each test file
 * makes its own database in it (see @wharf/db's test helpers).
 */
export default async function setup(project: TestProject) {
  // WHARF_TEST_IMAGES=0: a run whose tests use no wharf image (the Podman pass of test:ci).
  if (await dockerAvailable()) {
    if (process.env.WHARF_TEST_IMAGES === "0") await buildDist();
    else await buildWharfImages();
    await ensureBusyboxImage();
  } else {
    if (process.env.WHARF_REQUIRE_DOCKER === "1")
      throw new Error("WHARF_REQUIRE_DOCKER=1 but Docker is not running");
    await buildDist();
  }
  const pg = await startPostgres();
  project.provide("pgUrl", pg.url);
  process.env.WHARF_TEST_PG_URL = pg.url;
  return async () => {
    await pg.stop();
  };
}

async function buildDist(): Promise<void> {
  execFileSync(process.execPath, [path.join(import.meta.dirname, "../scripts/build.mjs")], {
    stdio: "inherit",
  });
}

declare module "vitest" {
  export interface ProvidedContext {
    pgUrl: string;
  }
}
