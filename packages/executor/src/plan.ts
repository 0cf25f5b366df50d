/**
 * The plan: what a `.wharf-ci.yml` means after parsing, validation, stage/environment
 * filtering and variable substitution. This is the only shape executors and the engine
 * see; they never see YAML.
 */

export type RunIf = "success" | "fail" | "always";

export type StepType = "container" | "docker" | "helm" | "helm-package" | "kubectl" | "nuget-package";

export interface ContainerSpec {
  image: string;
  cmds: string[];
  shell: string; // default "/bin/sh"
  os: string; // default "linux"
  secretName?: string;
  serviceAccount?: string;
  certificatesMountPath?: string;
}

export interface DockerSpec {
  file: string;
  tags: string[]; // `tag` split on commas, trimmed
  /** Set as written, or derived as wharf-cmd does (`defaultDockerDestination`) when unset. */
  destination?: string;
  name?: string; // the planner sets it: default the step's name
  group?: string; // default REPO_GROUP
  context: string; // default "."
  secret?: string; // the planner sets it: default REG_SECRET, else "gitlab-registry"
  registry?: string; // default REG_URL
  appendCert: boolean; // default: no destination and group starts with "default"
  push: boolean; // default true
  args: string[]; // KEY=VALUE build args
  secretName?: string;
  secretArgs: string[];
  /** `no-cache` (our extension): build every layer afresh, no layer cache; default false. */
  noCache: boolean;
  /** `pull` (our extension): pull base images even when present, for their newest version; default false. */
  pull: boolean;
}

export interface HelmSpec {
  chart: string;
  name: string;
  namespace: string;
  repo?: string;
  set: Record<string, string>;
  files: string[];
  chartVersion?: string;
  helmVersion?: string;
  cluster?: string;
  secret?: string;
}

export interface HelmPackageSpec {
  version?: string;
  chartPath?: string;
  destination?: string;
  secret?: string;
}

export interface KubectlSpec {
  files: string[]; // `file` or `files`
  namespace?: string;
  action: string; // default "apply"
  force: boolean;
  cluster?: string;
}

export interface NugetPackageSpec {
  version: string;
  projectPath: string;
  repo: string;
  skipDuplicate: boolean;
  certificatesMountPath?: string;
}

interface StepCommon {
  /** 1..N across the filtered stages, in declaration order. */
  id: number;
  name: string;
  stage: string;
  /** Step timeout in ms (`timeout: 10m`), undefined when not set. */
  timeoutMs?: number;
  /** Extra attempts after a failure (`retries`), 0 when not set. */
  retries: number;
  /** Globs relative to the workspace collected after the step succeeds (container steps only). */
  artifacts: string[];
  /**
   * Workspace-relative paths kept between builds (`cache:`, container steps only): restored
   * before the step, saved after it succeeded. Absent or empty: none.
   */
  cache?: string[];
}

export type PlanStep =
  | (StepCommon & { type: "container"; spec: ContainerSpec })
  | (StepCommon & { type: "docker"; spec: DockerSpec })
  | (StepCommon & { type: "helm"; spec: HelmSpec })
  | (StepCommon & { type: "helm-package"; spec: HelmPackageSpec })
  | (StepCommon & { type: "kubectl"; spec: KubectlSpec })
  | (StepCommon & { type: "nuget-package"; spec: NugetPackageSpec });

export interface PlanStage {
  name: string;
  runIf: RunIf;
  steps: PlanStep[];
}

export interface Plan {
  stages: PlanStage[];
  /** The chosen environment, or null. */
  environment: string | null;
  /** Values that must never be stored or printed (password inputs, WHARF_SECRET_* values). */
  secrets: string[];
  /**
   * The pipeline's own build timeout (top-level `timeout:`): it may lower the operator's
   * (`RunBuildOptions.buildTimeoutMs`, WHARF_BUILD_TIMEOUT), never raise it.
   */
  timeoutMs?: number;
}
