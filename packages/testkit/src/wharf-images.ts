import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import path from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);
const repoRoot = path.resolve(import.meta.dirname, "../../..");
const version = (JSON.parse(readFileSync(path.join(repoRoot, "package.json"), "utf8")) as { version: string })
  .version;

export type WharfService = "provisioner" | "aggregator" | "worker";

/** The image of `service` that scripts/build-images.sh builds from this checkout. */
export function wharfImage(service: WharfService): string {
  return `wharf/${service}:${version}`;
}

/**
 * Compiles the checkout and builds the three images (deploy/docker/Dockerfile) on Debian-made
 * bases: what the test setup runs once when Docker answers, so image tests run this checkout.
 */
export async function buildWharfImages(): Promise<void> {
  const { stdout } = await run("bash", [path.join(repoRoot, "scripts/build-images.sh")], {
    cwd: repoRoot,
    timeout: 10 * 60_000,
    maxBuffer: 16 * 1024 * 1024,
  });
  process.stdout.write(stdout);
}
