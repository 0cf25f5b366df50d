import { once } from "node:events";
import { createReadStream, createWriteStream } from "node:fs";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { pipeline } from "node:stream/promises";
import type { KubeConfig } from "@kubernetes/client-node";
import { PREPARE_STEP_OUTPUT, WORKSPACE_CONTAINER, WORKSPACE_PATH } from "@wharf/kube-manifests";
import picomatch from "picomatch";
import tar from "tar-fs";
import type { KubeApiCalls } from "./kube-api.js";
import { execInPod } from "./pod-exec.js";

export interface WorkspaceTarget {
  namespace: string;
  pod: string;
}

/**
 * Copies a host directory into the workspace claim, as `kubectl cp` does: tar over
 * pods/exec. The archive is written to a temporary file first so its length is known: the
 * pod runs `head -c <length> | tar -x`, which ends by itself once every byte arrived. Ending
 * stdin instead would need the `v5.channel.k8s.io` exec protocol; on `v4` (API servers
 * before 1.29/1.30) closing stdin closes the connection and the command's Status is lost.
 * The same command prepares the claim's step output directory, before any step pod exists.
 */
export async function copyIntoWorkspace(
  kc: KubeConfig,
  calls: KubeApiCalls,
  target: WorkspaceTarget,
  sourceDir: string,
): Promise<void> {
  const tmp = await fs.mkdtemp(path.join(os.tmpdir(), "wharf-k8s-upload-"));
  try {
    const archive = path.join(tmp, "workspace.tar");
    await pipeline(tar.pack(sourceDir), createWriteStream(archive));
    const { size } = await fs.stat(archive);
    await execInPod(
      kc,
      calls,
      { ...target, container: WORKSPACE_CONTAINER },
      ["sh", "-c", `${PREPARE_STEP_OUTPUT} && head -c ${size} | tar -x -f - -C ${WORKSPACE_PATH}`],
      { stdin: createReadStream(archive) },
    );
  } finally {
    await fs.rm(tmp, { recursive: true, force: true });
  }
}

/**
 * Copies the workspace files matching `globs` to `destDir`, keeping relative paths.
 * The whole workspace is streamed and filtered here so glob semantics (picomatch, `**`)
 * are the same as on the other executors, not the container shell's.
 */
export async function copyFromWorkspace(
  kc: KubeConfig,
  calls: KubeApiCalls,
  target: WorkspaceTarget,
  globs: string[],
  destDir: string,
): Promise<string[]> {
  const matches = picomatch(globs, { dot: true });
  const copied: string[] = [];
  const extract = tar.extract(destDir, {
    ignore: (name, header) => {
      const rel = path.relative(destDir, name).split(path.sep).join("/");
      const keep = header?.type === "file" && matches(rel);
      if (keep) copied.push(rel);
      return !keep;
    },
  });
  const finished = once(extract, "finish");
  await execInPod(
    kc,
    calls,
    { ...target, container: WORKSPACE_CONTAINER },
    ["tar", "-c", "-f", "-", "-C", WORKSPACE_PATH, "."],
    {
      stdout: extract,
    },
  );
  await finished;
  return copied.sort();
}
