import { execFile } from "node:child_process";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);

/**
 * A Debian bookworm root file system with git and CA certificates, nothing else.
 * Tests run the worker in it with the host's node binary and this repository
 * bind-mounted read-only (see `workerImageMounts`): no registry is reachable,
 * so the image is built from Debian packages with mmdebstrap.
 */
export const WORKER_BASE_IMAGE = "wharf-test/worker-base:latest";

async function imageExists(image: string): Promise<boolean> {
  try {
    await run("docker", ["image", "inspect", image], { timeout: 10_000 });
    return true;
  } catch {
    return false;
  }
}

async function hasCommand(cmd: string): Promise<boolean> {
  try {
    await run("sh", ["-c", `command -v ${cmd}`]);
    return true;
  } catch {
    return false;
  }
}

// Concurrent test files in one vitest run build it once per process; a lock
// directory makes other processes wait rather than run mmdebstrap twice.
let building: Promise<void> | undefined;
const LOCK_DIR = path.join(os.tmpdir(), "wharf-worker-base-image.lock");

async function withLock(fn: () => Promise<void>): Promise<void> {
  const deadline = Date.now() + 10 * 60_000;
  for (;;) {
    try {
      await fs.mkdir(LOCK_DIR);
      break;
    } catch {
      const stat = await fs.stat(LOCK_DIR).catch(() => null);
      // A lock older than the longest build is left over from a killed run.
      if (stat && Date.now() - stat.mtimeMs > 10 * 60_000)
        await fs.rm(LOCK_DIR, { recursive: true, force: true });
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${LOCK_DIR}`);
      await new Promise((r) => setTimeout(r, 500));
    }
  }
  try {
    await fn();
  } finally {
    await fs.rm(LOCK_DIR, { recursive: true, force: true });
  }
}

/**
 * Builds WORKER_BASE_IMAGE once (~1 min; skipped when it exists):
 * `mmdebstrap --variant=minbase --include=git,ca-certificates bookworm - | docker import -`.
 * Installs mmdebstrap with apt-get first when it is missing.
 */
export function ensureWorkerBaseImage(): Promise<void> {
  building ??= (async () => {
    if (await imageExists(WORKER_BASE_IMAGE)) return;
    await withLock(async () => {
      if (await imageExists(WORKER_BASE_IMAGE)) return;
      if (!(await hasCommand("mmdebstrap"))) {
        const sudo = process.getuid?.() === 0 ? "" : "sudo ";
        await run(
          "sh",
          [
            "-c",
            `${sudo}apt-get update -qq && DEBIAN_FRONTEND=noninteractive ${sudo}apt-get install -y -qq mmdebstrap`,
          ],
          { timeout: 5 * 60_000 },
        );
      }
      await run(
        "bash",
        [
          "-c",
          "set -o pipefail; mmdebstrap --quiet --variant=minbase --include=git,ca-certificates bookworm - " +
            `| docker import -c 'ENV PATH=/usr/local/bin:/usr/bin:/bin' - ${WORKER_BASE_IMAGE}`,
        ],
        { timeout: 8 * 60_000, maxBuffer: 16 * 1024 * 1024 },
      );
    });
  })();
  building.catch(() => {
    building = undefined;
  });
  return building;
}

/**
 * Binds that let WORKER_BASE_IMAGE run the worker from source: the host's node
 * binary at /usr/local/bin/node and the repository at its own path, read-only.
 */
export function workerImageMounts(repoRoot: string, nodeBinary = process.execPath): string[] {
  return [`${nodeBinary}:/usr/local/bin/node:ro`, `${repoRoot}:${repoRoot}:ro`];
}
