import type { Logger } from "@wharf/config";
import { imageRegistryHost, registryHost } from "@wharf/executor";
import type Docker from "dockerode";
import { withAppendedCert } from "./append-cert.js";
import { abortable, type ProgressEvent, readProgress } from "./engine-progress.js";
import type { ImageBuildSpec } from "./image-build-spec.js";
import { buildRegistryConfig, type RegistryAuth } from "./registry-auth.js";
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
  /** The worker's registry (WHARF_REGISTRY_*): pushed to with its credentials when the step's secret has none for the host. */
  pushRegistry?: PushRegistry;
  /** The step's registry `secret`, by registry host (see imageBuildSecrets); they win over `pushRegistry`. */
  registryAuths?: ReadonlyMap<string, RegistryAuth>;
  /** `secretArgs` resolved: build args on top of the spec's. */
  secretBuildArgs?: Record<string, string>;
  /** `append-cert`: the worker's certificate, added to the image (see withAppendedCert). */
  appendCert?: Buffer;
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
  const auths = pushAuths(task);
  const context = await task.context();
  const build = await docker.buildImage(
    task.appendCert ? withAppendedCert(context, spec.dockerfile, task.appendCert) : context,
    {
      dockerfile: spec.dockerfile,
      t: first,
      buildargs: { ...spec.buildArgs, ...task.secretBuildArgs },
      // Base images of a private registry are pulled with the same credentials the push uses.
      ...(auths.size > 0 ? { registryconfig: buildRegistryConfig(auths.values()) } : {}),
      networkmode: task.networkMode,
      pull: task.pullBase ? "1" : undefined,
      nocache: task.noCache,
      rm: true,
      forcerm: true,
      abortSignal: io.signal,
    } as Docker.ImageBuildOptions,
  );
  await abortable(readProgress(build, printer(io)), io.signal);
  for (const ref of more) {
    const [repo, tag] = splitRef(ref);
    await docker.getImage(first).tag({ repo, tag });
  }
  io.stdout.write(`built ${spec.refs.join(", ")}\n`);
  if (!task.push) return 0;
  for (const ref of spec.refs) {
    const authconfig = auths.get(imageRegistryHost(ref)) ?? task.pushRegistry;
    if (!authconfig) {
      task.log.info({ ref }, "push skipped: no registry configured");
      io.stdout.write(
        `push skipped: no registry configured for this worker, nor credentials for ${imageRegistryHost(ref)} in the step's registry secret\n`,
      );
      continue;
    }
    const [repo, tag] = splitRef(ref);
    const pushed = await docker.getImage(repo).push({ tag, authconfig, abortSignal: io.signal });
    await abortable(readProgress(pushed, printer(io)), io.signal);
  }
  return 0;
}

/** The credentials of each registry host: the step's secret over the worker's registry. */
function pushAuths(task: ImageBuildTask): Map<string, RegistryAuth | PushRegistry> {
  const auths = new Map<string, RegistryAuth | PushRegistry>();
  if (task.pushRegistry) auths.set(registryHost(task.pushRegistry.serveraddress), task.pushRegistry);
  for (const [host, auth] of task.registryAuths ?? []) auths.set(host, auth);
  return auths;
}

/** "host:5000/group/name:tag" → ["host:5000/group/name", "tag"]. */
export function splitRef(ref: string): [string, string] {
  const colon = ref.lastIndexOf(":");
  if (colon > ref.lastIndexOf("/")) return [ref.slice(0, colon), ref.slice(colon + 1)];
  return [ref, "latest"];
}
