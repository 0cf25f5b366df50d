import type { PlanStep } from "@wharf/executor";
import { stepScript } from "@wharf/executor";
import { shellCommand, shellQuote } from "./shell-quote.js";

/** Images of the tool steps; every one configurable (air-gapped clusters mirror them). */
export interface StepImages {
  helm: string;
  kubectl: string;
  /** A kaniko image with a shell (the `-debug` variant: /busybox/sh). */
  kaniko: string;
  nuget: string;
}

export const DEFAULT_STEP_IMAGES: StepImages = {
  helm: "alpine/helm:3.16.2",
  kubectl: "bitnami/kubectl:1.31.2",
  kaniko: "gcr.io/kaniko-project/executor:v1.23.2-debug",
  nuget: "mcr.microsoft.com/dotnet/sdk:8.0",
};

export interface SecretMount {
  secretName: string;
  mountPath: string;
  /** Only these keys, each at its path (all keys when unset). */
  items?: { key: string; path: string }[];
}

export interface ConfigMapMount {
  configMap: string;
  mountPath: string;
  /** Holds credentials (a kubeconfig): its values are masked in the log like a Secret's. */
  credentials?: boolean;
}

/** An environment variable read from one key of a Secret (its value never in the pod spec). */
export interface SecretKeyEnv {
  name: string;
  secretName: string;
  key: string;
}

/**
 * What names the project's Secrets: wharf-cmd gives a step's `secretName: x` the Secret
 * `wharf-<instance>-project-<projectId>-secretname-x` (WHARF_INSTANCE, WHARF_PROJECT_ID).
 * Without both (a build run by hand) the name is used as written.
 */
export interface ProjectSecrets {
  instance?: string;
  projectId?: string;
}

/** What a step's pod runs, independent of how the pod is wired (workspace, owner, labels). */
export interface StepRun {
  image: string;
  /** The container's command: `[shell, "-c", script]`. */
  command: string[];
  /** Secrets whose keys become environment variables. */
  envFromSecrets: string[];
  secretKeyEnv: SecretKeyEnv[];
  secretMounts: SecretMount[];
  configMapMounts: ConfigMapMount[];
  /** A ConfigMap of CA certificates mounted at this path. */
  certificatesMountPath?: string;
  serviceAccount?: string;
  /** Extra environment of the tool itself (KUBECONFIG, ...). */
  env: Record<string, string>;
}

/** A step whose spec cannot become a pod (e.g. a docker step with nowhere to push). */
export class StepSpecError extends Error {
  override readonly name = "StepSpecError";
  /** A step spec that cannot be run as written never starts, however often tried (see StepStartError). */
  readonly permanent = true;
}

/** The ConfigMap holding a kubeconfig for helm/kubectl steps when `cluster` is not set (wharf-cmd's). */
export const DEFAULT_CLUSTER_CONFIG_MAP = "kubectl-config";
/** Where wharf-cmd mounts it; KUBECONFIG points there too, for images whose user is not root. */
const KUBECONFIG_DIR = "/root/.kube";
/** The Secret and key of the nuget-package step's API token (wharf-cmd's). */
export const NUGET_TOKEN_SECRET = { secretName: "wharf-nuget-api-token", key: "token" };
/** Where a helm step's `secret` (a registry config.json) is mounted (wharf-cmd's). */
const HELM_REGISTRY_DIR = "/etc/helm/registry";

/** The Secret a step's `secretName` names (see ProjectSecrets). */
export function projectSecretName(project: ProjectSecrets, name: string): string {
  return project.instance && project.projectId
    ? `wharf-${project.instance}-project-${project.projectId}-secretname-${name}`
    : name;
}
export const WORKSPACE_PATH = "/workspace";

const run = (image: string, shell: string, lines: string[], extra: Partial<StepRun> = {}): StepRun => ({
  image,
  command: [shell, "-c", stepScript(lines)],
  envFromSecrets: [],
  secretKeyEnv: [],
  secretMounts: [],
  configMapMounts: [],
  env: {},
  ...extra,
});

/** helm and kubectl reach their cluster with the kubeconfig in the ConfigMap `cluster` names. */
function clusterAccess(cluster: string | undefined): Pick<StepRun, "configMapMounts" | "env"> {
  return {
    configMapMounts: [
      { configMap: cluster ?? DEFAULT_CLUSTER_CONFIG_MAP, mountPath: KUBECONFIG_DIR, credentials: true },
    ],
    env: { KUBECONFIG: `${KUBECONFIG_DIR}/config` },
  };
}

function containerRun(step: Extract<PlanStep, { type: "container" }>, project: ProjectSecrets): StepRun {
  const { spec } = step;
  return {
    ...run(spec.image, spec.shell, []),
    command: [spec.shell, "-c", stepScript(spec.cmds)],
    envFromSecrets: spec.secretName ? [projectSecretName(project, spec.secretName)] : [],
    certificatesMountPath: spec.certificatesMountPath,
    serviceAccount: spec.serviceAccount,
  };
}

function dockerRun(
  step: Extract<PlanStep, { type: "docker" }>,
  images: StepImages,
  project: ProjectSecrets,
): StepRun {
  const { spec } = step;
  const repository =
    spec.destination ??
    (spec.name ? [spec.registry, spec.group, spec.name].filter(Boolean).join("/") : undefined);
  if (!repository) throw new StepSpecError(`docker step "${step.name}" needs a destination or a name`);
  const args = [
    "/kaniko/executor",
    `--dockerfile=${WORKSPACE_PATH}/${spec.file}`,
    `--context=dir://${WORKSPACE_PATH}/${spec.context}`,
    ...(spec.tags.length ? spec.tags : ["latest"]).map((tag) => `--destination=${repository}:${tag}`),
    ...spec.args.map((a) => `--build-arg=${a}`),
    ...(spec.push ? [] : ["--no-push"]),
    // kaniko keeps no local images: it fetches base images from their registry on every build,
    // so `pull: true` needs no flag. Its layer cache is off unless asked (`--cache=true`);
    // `no-cache: true` says so explicitly, so no later default can turn it on for this step.
    ...(spec.noCache ? ["--cache=false"] : []),
  ];
  // Secret build args name an env var from the step's secret: ARG=ENV → --build-arg ARG="$ENV".
  const secretArgs = spec.secretArgs.map((a) => {
    const [arg, envName = arg] = a.split("=", 2) as [string, string?];
    return `--build-arg=${shellQuote(arg)}="$${envName.replace(/[^A-Za-z0-9_]/g, "")}"`;
  });
  return run(images.kaniko, "/busybox/sh", [[shellCommand(args), ...secretArgs].join(" ")], {
    envFromSecrets: spec.secretName ? [projectSecretName(project, spec.secretName)] : [],
    secretMounts: spec.secret ? [{ secretName: spec.secret, mountPath: "/kaniko/.docker" }] : [],
  });
}

function helmRun(step: Extract<PlanStep, { type: "helm" }>, images: StepImages): StepRun {
  const { spec } = step;
  const words = ["helm", "upgrade", "--install", spec.name, spec.chart, "--namespace", spec.namespace];
  if (spec.repo) words.push("--repo", spec.repo);
  if (spec.chartVersion) words.push("--version", spec.chartVersion);
  for (const file of spec.files) words.push("--values", `${WORKSPACE_PATH}/${file}`);
  for (const [k, v] of Object.entries(spec.set)) words.push("--set", `${k}=${v}`);
  const image = spec.helmVersion
    ? images.helm.replace(/:[^:/]+$/, `:${spec.helmVersion.replace(/^v/, "")}`)
    : images.helm;
  const cluster = clusterAccess(spec.cluster);
  // `secret`: a registry config.json for charts in OCI registries (wharf-cmd's mount and variable).
  return run(image, "/bin/sh", [shellCommand(words)], {
    ...cluster,
    ...(spec.secret
      ? {
          secretMounts: [
            {
              secretName: spec.secret,
              mountPath: HELM_REGISTRY_DIR,
              items: [{ key: "config.json", path: "config.json" }],
            },
          ],
          env: { ...cluster.env, HELM_REGISTRY_CONFIG: `${HELM_REGISTRY_DIR}/config.json` },
        }
      : {}),
  });
}

function helmPackageRun(step: Extract<PlanStep, { type: "helm-package" }>, images: StepImages): StepRun {
  const { spec } = step;
  const words = [
    "helm",
    "package",
    `${WORKSPACE_PATH}/${spec.chartPath ?? "."}`,
    "--destination",
    "/tmp/charts",
  ];
  if (spec.version) words.push("--version", spec.version);
  const lines = [shellCommand(words)];
  if (spec.destination) {
    // ChartMuseum-style upload; credentials (if any) come from the step's secret as env.
    lines.push(
      `for chart in /tmp/charts/*.tgz; do wget -q -O- --post-file="$chart" ${shellQuote(spec.destination)}; done`,
    );
  }
  return run(images.helm, "/bin/sh", lines, { envFromSecrets: spec.secret ? [spec.secret] : [] });
}

function kubectlRun(step: Extract<PlanStep, { type: "kubectl" }>, images: StepImages): StepRun {
  const { spec } = step;
  const words = ["kubectl", spec.action];
  if (spec.namespace) words.push("--namespace", spec.namespace);
  if (spec.force) words.push("--force");
  for (const file of spec.files) words.push("--filename", `${WORKSPACE_PATH}/${file}`);
  return run(images.kubectl, "/bin/sh", [shellCommand(words)], clusterAccess(spec.cluster));
}

function nugetRun(step: Extract<PlanStep, { type: "nuget-package" }>, images: StepImages): StepRun {
  const { spec } = step;
  const pack = [
    "dotnet",
    "pack",
    `${WORKSPACE_PATH}/${spec.projectPath}`,
    `-p:PackageVersion=${spec.version}`,
    "--output",
    "/tmp/nuget",
  ];
  const push = ["dotnet", "nuget", "push", "/tmp/nuget/*.nupkg", "--source", spec.repo];
  if (spec.skipDuplicate) push.push("--skip-duplicate");
  return run(
    images.nuget,
    "/bin/sh",
    [
      shellCommand(pack),
      `${shellCommand(push).replace("'/tmp/nuget/*.nupkg'", "/tmp/nuget/*.nupkg")} --api-key "$NUGET_TOKEN"`,
    ],
    {
      secretKeyEnv: [{ name: "NUGET_TOKEN", ...NUGET_TOKEN_SECRET }],
      certificatesMountPath: spec.certificatesMountPath,
    },
  );
}

/** Maps any plan step to what its pod runs. Throws StepSpecError for a step that cannot run. */
export function stepRun(
  step: PlanStep,
  images: StepImages = DEFAULT_STEP_IMAGES,
  project: ProjectSecrets = {},
): StepRun {
  switch (step.type) {
    case "container":
      return containerRun(step, project);
    case "docker":
      return dockerRun(step, images, project);
    case "helm":
      return helmRun(step, images);
    case "helm-package":
      return helmPackageRun(step, images);
    case "kubectl":
      return kubectlRun(step, images);
    case "nuget-package":
      return nugetRun(step, images);
  }
}
