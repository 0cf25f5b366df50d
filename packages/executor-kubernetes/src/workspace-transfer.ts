import { once } from "node:events";
import path from "node:path";
import type { KubeConfig } from "@kubernetes/client-node";
import { WORKSPACE_CONTAINER, WORKSPACE_PATH } from "@wharf/kube-manifests";
import picomatch from "picomatch";
import tar from "tar-fs";
import { execInPod } from "./pod-exec.js";

export interface WorkspaceTarget {
  namespace: string;
  pod: string;
}

/** Streams a host directory into the workspace claim, as `kubectl cp` does: tar over pods/exec. */
export async function copyIntoWorkspace(
  kc: KubeConfig,
  target: WorkspaceTarget,
  sourceDir: string,
): Promise<void> {
  await execInPod(
    kc,
    { ...target, container: WORKSPACE_CONTAINER },
    ["tar", "-x", "-f", "-", "-C", WORKSPACE_PATH],
    { stdin: tar.pack(sourceDir) },
  );
}

/**
 * Copies the workspace files matching `globs` to `destDir`, keeping relative paths.
 * The whole workspace is streamed and filtered here so glob semantics (picomatch, `**`)
 * are the same as on the other executors, not the container shell's.
 */
export async function copyFromWorkspace(
  kc: KubeConfig,
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
    { ...target, container: WORKSPACE_CONTAINER },
    ["tar", "-c", "-f", "-", "-C", WORKSPACE_PATH, "."],
    {
      stdout: extract,
    },
  );
  await finished;
  return copied.sort();
}
