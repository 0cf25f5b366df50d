/**
 * Defaults wharf-cmd v0.9.1 gives fields a pipeline leaves unset, as plain functions so
 * every backend derives the same names from a plan.
 */

/** wharf-cmd's `secret` of a docker step when neither the step nor `REG_SECRET` sets one. */
export const DEFAULT_DOCKER_SECRET = "gitlab-registry";

/**
 * The docker step's image repository when `destination` is unset, wharf-cmd's rule:
 * `registry/group/repoName`, plus `/name` when the step's `name` (which defaults to the
 * step's own name) differs from the repository's name. `registry` and `group` default to
 * `REG_URL` and `REPO_GROUP`, `repoName` is `REPO_NAME`. wharf-cmd refuses the step when
 * one of those variables is missing; here the missing parts are left out (a local build
 * without `REG_URL` still gets a usable image name). Undefined when nothing is known.
 */
export function defaultDockerDestination(parts: {
  registry?: string | undefined;
  group?: string | undefined;
  repoName?: string | undefined;
  name?: string | undefined;
}): string | undefined {
  const { registry, group, repoName, name } = parts;
  const image = repoName ? [repoName, name && name !== repoName ? name : undefined] : [name];
  const joined = [registry, group, ...image].filter((p) => p !== undefined && p !== "").join("/");
  return joined === "" ? undefined : joined;
}

/**
 * wharf-cmd's `append-cert` default: true when the destination is derived (no
 * `destination` field) and the group starts with "default", any case.
 */
export function defaultAppendCert(hasDestination: boolean, group: string | undefined): boolean {
  return !hasDestination && (group ?? "").toLowerCase().startsWith("default");
}
