import path from "node:path";
import { type DockerSpec, defaultDockerDestination } from "@wharf/wharfyml";

/** What a `docker` step asks the engine to build, validated. */
export interface ImageBuildSpec {
  /** Context directory relative to the workspace ("." for all of it). */
  context: string;
  /** Dockerfile path relative to the context. */
  dockerfile: string;
  /** Full references `repo:tag`, one per tag. */
  refs: string[];
  buildArgs: Record<string, string>;
}

/**
 * A `docker` step whose spec cannot be built; the executor reports it as a StepStartError,
 * which takes `permanent` from this cause: no retry can mend the spec.
 */
export class ImageBuildSpecError extends Error {
  override readonly name = "ImageBuildSpecError";
  readonly permanent = true;
}

/** Workspace-relative, normalised; refuses paths that leave the workspace. */
function insideWorkspace(what: string, p: string): string {
  const norm = path.posix.normalize(p || ".");
  if (norm.startsWith("/") || norm === ".." || norm.startsWith("../"))
    throw new ImageBuildSpecError(`docker step ${what} "${p}" must be a path inside the workspace`);
  return norm.replace(/\/$/, "");
}

/**
 * Turns a plan's `DockerSpec` into an engine build: the image repository is `destination`
 * (which the planner derives as wharf-cmd does when the pipeline leaves it unset), else
 * `registry/group/name` from what is set, lower-cased as Docker requires; each tag gives
 * one reference. Build args are
 * `KEY=VALUE`; a bare `KEY` takes its value from the step environment, as `docker build` does.
 */
export function imageBuildSpec(spec: DockerSpec, env: Record<string, string>): ImageBuildSpec {
  const context = insideWorkspace("context", spec.context);
  const file = insideWorkspace("file", spec.file);
  const dockerfile = path.posix.relative(context, file);
  if (dockerfile.startsWith("../") || dockerfile === "..")
    throw new ImageBuildSpecError(
      `docker step file "${spec.file}" must be inside its context "${spec.context}"`,
    );
  const repo = (
    spec.destination ??
    defaultDockerDestination({ registry: spec.registry, group: spec.group, name: spec.name }) ??
    ""
  ).toLowerCase();
  if (!repo) throw new ImageBuildSpecError("docker step needs a destination or a name for the image");
  const tags = spec.tags.length > 0 ? spec.tags : ["latest"];
  const refs = tags.map((tag) => `${repo}:${tag}`);
  const buildArgs: Record<string, string> = {};
  for (const arg of spec.args) {
    const eq = arg.indexOf("=");
    if (eq > 0) buildArgs[arg.slice(0, eq)] = arg.slice(eq + 1);
    else if (env[arg] !== undefined) buildArgs[arg] = env[arg];
  }
  return { context, dockerfile, refs, buildArgs };
}
