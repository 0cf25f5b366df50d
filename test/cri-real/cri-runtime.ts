import fs from "node:fs/promises";
import path from "node:path";
import type { BuildSpec } from "@wharf/executor";
import { LABEL_BUILD_REF } from "@wharf/executor";
import type { CriExecutor } from "@wharf/executor-cri";
import { expect } from "vitest";

/** The containerd of scripts/cri/up.sh (its stdout), or unset: the CRI tests are skipped. */
export const CRI_ENDPOINT = process.env.WHARF_CRI_TEST_ENDPOINT;
/** A step image the runtime has (up.sh imports it); no registry is reachable. */
export const CRI_IMAGE = process.env.WHARF_CRI_TEST_IMAGE ?? "wharf-test/busybox:latest";
/** The runtime's root, state and socket directory (up.sh keeps them all under one). */
export const CRI_DIR = CRI_ENDPOINT ? path.dirname(CRI_ENDPOINT.replace(/^unix:\/\//, "")) : "";

/** Host mount points under `dir` (rootfs overlays, sandbox shm and netns, bind mounts). */
export async function mountsUnder(dir: string): Promise<string[]> {
  const info = await fs.readFile("/proc/self/mountinfo", "utf8");
  return info
    .split("\n")
    .map((line) => line.split(" ")[4] ?? "")
    .filter((m) => m.startsWith(`${dir}/`));
}

/** Nothing of `build` is left: no sandbox or container with its labels, no host directory, no mount. */
export async function assertCriBuildGone(executor: CriExecutor, build: BuildSpec): Promise<void> {
  expect(await executor.findLeftovers({ [LABEL_BUILD_REF]: build.buildRef })).toEqual({
    sandboxes: [],
    containers: [],
    buildRefs: [],
  });
  const dirs = await fs.readdir(executor.workRoot).catch(() => []);
  expect(dirs.filter((d) => build.buildRef.startsWith(d) || d.startsWith(build.buildRef))).toEqual([]);
  // The tests of a file run one at a time and files one after another: no other build has mounts now.
  expect(await mountsUnder(CRI_DIR)).toEqual([]);
  expect(await mountsUnder(executor.workRoot)).toEqual([]);
}
