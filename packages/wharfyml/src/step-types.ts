import type { FieldReader } from "./field-reader.js";
import type {
  ContainerSpec,
  DockerSpec,
  HelmPackageSpec,
  HelmSpec,
  KubectlSpec,
  NugetPackageSpec,
  StepType,
} from "./plan.js";
import { DEFAULT_DOCKER_SECRET, defaultAppendCert, defaultDockerDestination } from "./wharf-defaults.js";

/**
 * The six Wharf step types: which fields each accepts, which are required (`string(k, true)`)
 * and their defaults. Field names are Wharf's, spelled as users write them in YAML.
 */
interface StepTypeSchema<S> {
  fields: readonly string[];
  /** `step.name` is the step's key in its stage (wharf-cmd's default docker image `name`). */
  read(r: FieldReader, step: { name: string }): S;
}

const container: StepTypeSchema<ContainerSpec> = {
  fields: ["image", "cmds", "shell", "os", "secretName", "serviceAccount", "certificatesMountPath"],
  read: (r) => ({
    image: r.string("image", true) ?? "",
    cmds: r.stringList("cmds", true) ?? [],
    shell: r.string("shell") ?? "/bin/sh",
    os: r.string("os") ?? "linux",
    ...optional("secretName", r.string("secretName")),
    ...optional("serviceAccount", r.string("serviceAccount")),
    ...optional("certificatesMountPath", r.string("certificatesMountPath")),
  }),
};

const docker: StepTypeSchema<DockerSpec> = {
  fields: [
    "file",
    "tag",
    "destination",
    "name",
    "group",
    "context",
    "secret",
    "registry",
    "append-cert",
    "push",
    "args",
    "secretName",
    "secretArgs",
    "no-cache",
    "pull",
  ],
  read: (r, step) => {
    // wharf-cmd (pkg/steps/docker.go): `name` defaults to the step's name, `registry` to
    // REG_URL, `group` to REPO_GROUP, and an unset `destination` is derived from them and
    // REPO_NAME; `secret` defaults to REG_SECRET, else "gitlab-registry".
    const name = r.string("name") ?? step.name;
    const registry = r.string("registry") ?? r.variable("REG_URL");
    const group = r.string("group") ?? r.variable("REPO_GROUP");
    const hasDestination = r.has("destination");
    const secretName = r.string("secretName");
    const secretArgs = r.stringList("secretArgs") ?? [];
    checkSecretArgs(r, secretName, secretArgs);
    const destination = hasDestination
      ? r.string("destination")
      : defaultDockerDestination({ registry, group, repoName: r.variable("REPO_NAME"), name });
    return {
      file: r.string("file", true) ?? "",
      tags: splitTags(r.string("tag", true)),
      ...optional("destination", destination),
      name,
      ...optional("group", group),
      context: r.string("context") ?? ".",
      secret: r.string("secret") ?? r.variable("REG_SECRET") ?? DEFAULT_DOCKER_SECRET,
      ...optional("registry", registry),
      appendCert: r.bool("append-cert") ?? defaultAppendCert(hasDestination, group),
      push: r.bool("push") ?? true,
      args: r.stringList("args") ?? [],
      ...optional("secretName", secretName),
      secretArgs,
      // Our extensions: build without the engine's layer cache, and pull the base images afresh.
      noCache: r.bool("no-cache") ?? false,
      pull: r.bool("pull") ?? false,
    };
  },
};

/**
 * wharf-cmd's rules (pkg/steps/docker.go): each `secretArgs` entry is `ARG=secret-key`, both
 * non-empty, and `secretArgs` and `secretName` come together. Entries still holding a variable
 * are checked once it is substituted.
 */
function checkSecretArgs(r: FieldReader, secretName: string | undefined, secretArgs: string[]): void {
  for (const entry of secretArgs) {
    if (entry.includes("${")) continue;
    const eq = entry.indexOf("=");
    if (eq <= 0 || eq === entry.length - 1)
      r.fieldError(
        "secretArgs",
        `secretArgs entry "${entry}" must be ARG=secret-key (the build arg, then the key)`,
      );
  }
  if (secretArgs.length > 0 && !secretName)
    r.fieldError("secretArgs", "secretArgs need secretName, the Secret their keys are in");
  else if (secretArgs.length === 0 && secretName)
    r.fieldError("secretName", "secretName of a docker step needs secretArgs, the keys to read from it");
}

const helm: StepTypeSchema<HelmSpec> = {
  fields: [
    "chart",
    "name",
    "namespace",
    "repo",
    "set",
    "files",
    "chartVersion",
    "helmVersion",
    "cluster",
    "secret",
  ],
  read: (r) => ({
    chart: r.string("chart", true) ?? "",
    name: r.string("name", true) ?? "",
    namespace: r.string("namespace", true) ?? "",
    ...optional("repo", r.string("repo")),
    set: r.stringMap("set") ?? {},
    files: r.stringList("files") ?? [],
    ...optional("chartVersion", r.string("chartVersion")),
    ...optional("helmVersion", r.string("helmVersion")),
    ...optional("cluster", r.string("cluster")),
    ...optional("secret", r.string("secret")),
  }),
};

const helmPackage: StepTypeSchema<HelmPackageSpec> = {
  fields: ["version", "chart-path", "destination", "secret"],
  read: (r) => ({
    ...optional("version", r.string("version")),
    ...optional("chartPath", r.string("chart-path")),
    ...optional("destination", r.string("destination")),
    ...optional("secret", r.string("secret")),
  }),
};

const kubectl: StepTypeSchema<KubectlSpec> = {
  fields: ["file", "files", "namespace", "action", "force", "cluster"],
  read: (r) => {
    // Wharf takes `file` (one manifest) or `files` (several); at least one is required.
    const hasEither = r.has("file") || r.has("files");
    const file = r.string("file");
    const files = r.stringList("files") ?? [];
    if (!hasEither) r.missing("file or files");
    return {
      files: file === undefined ? files : [file, ...files],
      ...optional("namespace", r.string("namespace")),
      action: r.string("action") ?? "apply",
      force: r.bool("force") ?? false,
      ...optional("cluster", r.string("cluster")),
    };
  },
};

const nugetPackage: StepTypeSchema<NugetPackageSpec> = {
  fields: ["version", "project-path", "repo", "skip-duplicate", "certificatesMountPath"],
  read: (r) => ({
    version: r.string("version", true) ?? "",
    projectPath: r.string("project-path", true) ?? "",
    repo: r.string("repo", true) ?? "",
    skipDuplicate: r.bool("skip-duplicate") ?? false,
    ...optional("certificatesMountPath", r.string("certificatesMountPath")),
  }),
};

export type AnySpec =
  | ContainerSpec
  | DockerSpec
  | HelmSpec
  | HelmPackageSpec
  | KubectlSpec
  | NugetPackageSpec;

export const stepTypeSchemas: Readonly<Record<StepType, StepTypeSchema<AnySpec>>> = {
  container,
  docker,
  helm,
  "helm-package": helmPackage,
  kubectl,
  "nuget-package": nugetPackage,
};

export const stepTypeNames = Object.keys(stepTypeSchemas) as StepType[];

export function isStepType(name: string): name is StepType {
  return Object.hasOwn(stepTypeSchemas, name);
}

/** Our extensions, accepted on every step type (`artifacts` and `cache` act on container steps only). */
export const extensionFields = ["timeout", "retries", "artifacts", "cache"] as const;

function splitTags(tag: string | undefined): string[] {
  if (tag === undefined) return [];
  return tag
    .split(",")
    .map((t) => t.trim())
    .filter((t) => t !== "");
}

/** `{ key: value }` when set, `{}` otherwise, so optional spec fields stay absent. */
function optional<K extends string, V>(key: K, value: V | undefined): { [P in K]?: V } {
  return (value === undefined ? {} : { [key]: value }) as { [P in K]?: V };
}
