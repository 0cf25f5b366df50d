import type { PlanStep, ProjectSecrets } from "@wharf/executor";
import {
  APPENDED_CERT_INSTRUCTIONS,
  APPENDED_CERT_NAME,
  projectSecretName,
  stepScript,
} from "@wharf/executor";
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

/** Where the certificates ConfigMap is mounted for `append-cert` in the kaniko pod. */
export const APPEND_CERT_DIR = "/kaniko/wharf-certs";
/** The certificate `append-cert` adds: this key of the certificates ConfigMap (wharf-cmd's file name). */
export const APPEND_CERT_KEY = APPENDED_CERT_NAME;
/** Where the Dockerfile with the certificate lines appended is written: outside the shared workspace. */
const APPENDED_DOCKERFILE = "/kaniko/wharf-Dockerfile";
/** The env vars kaniko reads `secretArgs` values from: numbered, so no build arg name can shadow PATH or HOME. */
const SECRET_ARG_ENV = "WHARF_SECRET_ARG_";

/**
 * A docker step as wharf-cmd runs it with kaniko: one `--destination` per tag, `args` as
 * build args, the registry `secret`'s `.dockerconfigjson` mounted as /kaniko/.docker/config.json
 * (the credentials kaniko pushes and pulls with). `secretArgs` `ARG=key` read `key` of the
 * project Secret `secretName` into an env var (secretKeyRef: the value is never in the pod
 * spec) that the script passes as the build arg ARG. `append-cert` copies the certificates
 * ConfigMap's root.crt into the context and builds a copy of the Dockerfile ending in
 * wharf-cmd's lines (COPY it, append it to the CA bundle); the workspace's Dockerfile is left as is.
 */
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
  const secretArgs = spec.secretArgs.map((entry, i) => {
    const eq = entry.indexOf("=");
    const [arg, key] = eq < 0 ? ["", ""] : [entry.slice(0, eq), entry.slice(eq + 1)];
    if (!arg || !key)
      throw new StepSpecError(
        `docker step "${step.name}": secretArgs entry "${entry}" must be ARG=secret-key`,
      );
    return { arg, key, env: `${SECRET_ARG_ENV}${i}` };
  });
  if (secretArgs.length > 0 && !spec.secretName)
    throw new StepSpecError(
      `docker step "${step.name}": secretArgs need secretName, the Secret their keys are in`,
    );
  const context = `${WORKSPACE_PATH}/${spec.context}`;
  const dockerfile = `${WORKSPACE_PATH}/${spec.file}`;
  const args = [
    "/kaniko/executor",
    `--dockerfile=${spec.appendCert ? APPENDED_DOCKERFILE : dockerfile}`,
    `--context=dir://${context}`,
    ...(spec.tags.length ? spec.tags : ["latest"]).map((tag) => `--destination=${repository}:${tag}`),
    ...spec.args.map((a) => `--build-arg=${a}`),
    ...(spec.push ? [] : ["--no-push"]),
    // kaniko keeps no local images: it fetches base images from their registry on every build,
    // so `pull: true` needs no flag. Its layer cache is off unless asked (`--cache=true`);
    // `no-cache: true` says so explicitly, so no later default can turn it on for this step.
    ...(spec.noCache ? ["--cache=false"] : []),
  ];
  const build = [
    shellCommand(args),
    ...secretArgs.map((s) => `--build-arg=${shellQuote(s.arg)}="$${s.env}"`),
  ].join(" ");
  // The certificate sits in the context only while kaniko runs: later steps see the workspace as it was.
  const certInContext = `${context}/${APPEND_CERT_KEY}`;
  const kept = "/kaniko/wharf-kept-root.crt";
  const lines = spec.appendCert
    ? [
        // A root.crt of the repository's own is put back afterwards.
        `[ ! -e ${shellQuote(certInContext)} ] || mv ${shellQuote(certInContext)} ${kept}`,
        shellCommand(["cp", `${APPEND_CERT_DIR}/${APPEND_CERT_KEY}`, certInContext]),
        `{ cat ${shellQuote(dockerfile)}; echo; printf '%s\\n' ${APPENDED_CERT_INSTRUCTIONS.map(shellQuote).join(" ")}; } > ${APPENDED_DOCKERFILE}`,
        `rc=0; ${build} || rc=$?`,
        shellCommand(["rm", "-f", certInContext]),
        `[ ! -e ${kept} ] || mv ${kept} ${shellQuote(certInContext)}`,
        'exit "$rc"',
      ]
    : [build];
  return run(images.kaniko, "/busybox/sh", lines, {
    secretKeyEnv: secretArgs.map((s) => ({
      name: s.env,
      secretName: projectSecretName(project, spec.secretName as string),
      key: s.key,
    })),
    secretMounts: spec.secret
      ? [
          {
            secretName: spec.secret,
            mountPath: "/kaniko/.docker",
            items: [{ key: ".dockerconfigjson", path: "config.json" }],
          },
        ]
      : [],
    ...(spec.appendCert ? { certificatesMountPath: APPEND_CERT_DIR } : {}),
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
