import type { Logger } from "@wharf/config";
import type Docker from "dockerode";
import { abortable, type ProgressEvent, readProgress } from "./engine-progress.js";
import type { ImageBuildSpec } from "./image-build-spec.js";
import type { TaskIO } from "./task-step-process.js";

/** Credentials of the registry built images are pushed to (Docker's AuthConfig). */
export interface PushRegistry {
  serveraddress: string;
  username?: string;
  password?: string;
}

export interface ImageBuildTask {
  docker: Docker;
  /** Tar of the build context, as the workspace volume gives it. */
  context: () => Promise<NodeJS.ReadableStream>;
  spec: ImageBuildSpec;
  push: boolean;
  pushRegistry?: PushRegistry;
  networkMode: string;
  /** Pull the Dockerfile's base images even when the engine has them (`pull: true`, or pull policy "always"). */
  pullBase: boolean;
  /** Build every layer afresh (`no-cache: true`). */
  noCache: boolean;
  log: Logger;
}

/** Writes the human part of a progress event, as `docker build` prints it; errors are thrown by readProgress. */
function printer(io: TaskIO): (event: ProgressEvent) => void {
  return (event) => {
    if (event.stream) io.stdout.write(event.stream);
    else if (event.status) io.stdout.write(`${event.id ? `${event.id}: ` : ""}${event.status}\n`);
  };
}

/** Builds the image of a `docker` step with the engine, streaming its output; pushes only if asked and possible. */
export async function runImageBuild(task: ImageBuildTask, io: TaskIO): Promise<number> {
  const { docker, spec } = task;
  const [first, ...more] = spec.refs;
  if (!first) throw new Error("docker step has no image reference");
  const build = await docker.buildImage(await task.context(), {
    dockerfile: spec.dockerfile,
    t: first,
    buildargs: spec.buildArgs,
    networkmode: task.networkMode,
    pull: task.pullBase ? "1" : undefined,
    nocache: task.noCache,
    rm: true,
    forcerm: true,
    abortSignal: io.signal,
  } as Docker.ImageBuildOptions);
  await abortable(readProgress(build, printer(io)), io.signal);
  for (const ref of more) {
    const [repo, tag] = splitRef(ref);
    await docker.getImage(first).tag({ repo, tag });
  }
  io.stdout.write(`built ${spec.refs.join(", ")}\n`);
  if (!task.push) return 0;
  if (!task.pushRegistry) {
    task.log.info({ refs: spec.refs }, "push skipped: no registry configured");
    io.stdout.write("push skipped: no registry configured for this worker\n");
    return 0;
  }
  for (const ref of spec.refs) {
    const [repo, tag] = splitRef(ref);
    const pushed = await docker
      .getImage(repo)
      .push({ tag, authconfig: task.pushRegistry, abortSignal: io.signal });
    await abortable(readProgress(pushed, printer(io)), io.signal);
  }
  return 0;
}

/** "host:5000/group/name:tag" → ["host:5000/group/name", "tag"]. */
export function splitRef(ref: string): [string, string] {
  const colon = ref.lastIndexOf(":");
  if (colon > ref.lastIndexOf("/")) return [ref.slice(0, colon), ref.slice(colon + 1)];
  return [ref, "latest"];
}
