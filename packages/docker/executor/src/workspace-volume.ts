import { createWriteStream } from "node:fs";
import fs from "node:fs/promises";
import path from "node:path";
import { pipeline } from "node:stream/promises";
import { assertWorkspaceGlobs, type BuildSpec, ExecutorError } from "@wharf/executor";
import type Docker from "dockerode";
import picomatch from "picomatch";
import { pack as packDir } from "tar-fs";
import { extract, pack } from "tar-stream";
import { helperContainerName, helperContainerOptions, volumeCreateOptions } from "./container-spec.js";
import { readProgress } from "./engine-progress.js";
import { imageExists } from "./image-policy.js";

/** Imported on demand from an empty tar, so the executor needs no image from any registry. */
export const DEFAULT_HELPER_IMAGE = "wharf/workspace-helper:1";

/**
 * The build's workspace as a named volume. It is filled and read through a helper
 * container that is created but never started (the archive API reaches the volumes of a
 * stopped container), so nothing depends on host paths: the worker may itself run in a
 * container, with only the engine's socket.
 */
export class WorkspaceVolume {
  constructor(
    private readonly docker: Docker,
    private readonly helperImage: string,
    private readonly workspacePath: string,
  ) {}

  /** The volume and its helper container: what needs no source, made while the worker still clones. */
  async make(build: Omit<BuildSpec, "sourceDir">): Promise<void> {
    await this.ensureHelperImage();
    await this.docker.createVolume(volumeCreateOptions(build));
    await this.docker.createContainer(helperContainerOptions(build, this.helperImage, this.workspacePath));
  }

  /**
   * Checks `build.sourceDir` and starts copying it into the volume `make` made: the check is
   * awaited, the copy is the promise returned inside (so a caller can start steps beside it).
   */
  async fill(build: BuildSpec): Promise<{ copied: Promise<void> }> {
    const stat = await fs.stat(build.sourceDir).catch((err: unknown) => {
      throw new ExecutorError(`source directory ${build.sourceDir} cannot be read`, { cause: err });
    });
    if (!stat.isDirectory())
      throw new ExecutorError(`source directory ${build.sourceDir} is not a directory`);
    const copied = this.docker
      .getContainer(helperContainerName(build.buildRef))
      .putArchive(packDir(build.sourceDir), { path: this.workspacePath })
      .then(
        () => {},
        (err: unknown) => {
          throw new ExecutorError(`could not copy the source into the workspace: ${(err as Error).message}`, {
            cause: err,
          });
        },
      );
    return { copied };
  }

  /** A tar of the workspace directory `rel` ("." for all), entries named "./...". */
  async archive(build: BuildSpec, rel: string): Promise<NodeJS.ReadableStream> {
    const dir = path.posix.join(this.workspacePath, rel);
    return this.docker.getContainer(helperContainerName(build.buildRef)).getArchive({ path: `${dir}/.` });
  }

  /** Extracts the regular files matching `globs` into `destDir`; same matching rules as the local executor. */
  async collect(build: BuildSpec, globs: string[], destDir: string): Promise<string[]> {
    assertWorkspaceGlobs(globs);
    const matches = picomatch(globs, { dot: true });
    const tar = extract();
    const copied: string[] = [];
    tar.on("entry", (header, stream, next) => {
      const rel = path.posix.normalize(header.name).replace(/^\.\//, "");
      if (header.type !== "file" || rel.startsWith("../") || !matches(rel)) {
        stream.on("end", next).resume();
        return;
      }
      const to = path.join(destDir, rel);
      fs.mkdir(path.dirname(to), { recursive: true })
        .then(() => pipeline(stream, createWriteStream(to)))
        .then(() => {
          copied.push(rel);
          next();
        }, next);
    });
    await pipeline(await this.archive(build, "."), tar);
    return copied.sort();
  }

  private ensureHelperImage(): Promise<void> {
    return ensureHelperImage(this.docker, this.helperImage, this.workspacePath);
  }
}

/**
 * Imports the default helper image from an empty tar when it is missing (any other image is
 * the operator's to provide). The janitor's lock container uses it too: it needs an image
 * that no registry has to serve.
 */
export async function ensureHelperImage(
  docker: Docker,
  helperImage: string,
  workspacePath: string,
): Promise<void> {
  if (helperImage !== DEFAULT_HELPER_IMAGE || (await imageExists(docker, helperImage))) return;
  const root = pack();
  root.entry({ name: `${workspacePath.replace(/^\//, "")}/`, type: "directory", mode: 0o755 });
  root.finalize();
  // "name:tag" as `repo` alone: Podman's Docker API ignores a separate `tag` on import (it tags "latest").
  const progress = await docker.importImage(root as unknown as NodeJS.ReadableStream, { repo: helperImage });
  await readProgress(progress);
}
