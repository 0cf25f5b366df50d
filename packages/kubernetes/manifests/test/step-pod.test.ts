import type { PlanStep } from "@wharf/executor";
import { PersistentVolumeClaim } from "kubernetes-models/v1/PersistentVolumeClaim";
import { Pod } from "kubernetes-models/v1/Pod";
import { describe, expect, it } from "vitest";
import {
  DEFAULT_STEP_IMAGES,
  labelValue,
  namePrefix,
  StepSpecError,
  stepPod,
  stepRun,
  workspaceClaim,
  workspacePod,
} from "../src/index.js";

const common = { stage: "build", retries: 0, artifacts: [] };
const steps: PlanStep[] = [
  {
    ...common,
    id: 1,
    name: "compile it",
    type: "container",
    spec: {
      image: "golang:1.22",
      cmds: ["go build ./...", "echo done"],
      shell: "/bin/sh",
      os: "linux",
      secretName: "go-secrets",
      serviceAccount: "builder",
      certificatesMountPath: "/etc/ssl/custom",
    },
  },
  {
    ...common,
    id: 2,
    name: "image",
    type: "docker",
    spec: {
      file: "Dockerfile",
      tags: ["v1", "latest"],
      name: "app",
      group: "team",
      registry: "registry.example",
      context: ".",
      secret: "registry-auth",
      appendCert: false,
      push: true,
      args: ["A=1"],
      secretName: "build-secrets",
      secretArgs: ["TOKEN=API_TOKEN"],
      noCache: false,
      pull: false,
    },
  },
  {
    ...common,
    id: 3,
    name: "deploy",
    type: "helm",
    spec: {
      chart: "app",
      name: "app",
      namespace: "prod",
      repo: "https://charts.example",
      set: { "image.tag": "v1" },
      files: ["values.yaml"],
      chartVersion: "1.2.3",
      helmVersion: "v3.15.0",
    },
  },
  {
    ...common,
    id: 4,
    name: "package",
    type: "helm-package",
    spec: { version: "1.0.0", chartPath: "chart", destination: "https://charts.example/api/charts" },
  },
  {
    ...common,
    id: 5,
    name: "apply",
    type: "kubectl",
    spec: {
      files: ["k8s/a.yaml", "k8s/b.yaml"],
      namespace: "prod",
      action: "apply",
      force: true,
      cluster: "prod-kubeconfig",
    },
  },
  {
    ...common,
    id: 6,
    name: "nuget",
    type: "nuget-package",
    spec: {
      version: "1.0.0",
      projectPath: "src/Lib.csproj",
      repo: "https://nuget.example/v3/index.json",
      skipDuplicate: true,
    },
  },
];

const input = (step: PlanStep) => ({
  buildRef: "build/42",
  stepId: step.id,
  labels: { "wharf.iver.com/build-ref": "build/42", "wharf.iver.com/step-name": step.name },
  env: { CI: "true", WHARF_BUILD_REF: "42" },
  run: stepRun(step, DEFAULT_STEP_IMAGES),
  workspaceClaim: "wharf-ws-abcde",
  outputKey: "step-1-0a1b2c3d",
  owner: { name: "wharf-worker-xyz12", uid: "0b0c2d4e-1111-2222-3333-444455556666" },
  certificatesConfigMap: "ca-certificates-config",
  resources: { limits: { cpu: "1", memory: "1Gi" } },
});

describe("step pods", () => {
  for (const step of steps) {
    it(`builds a schema-valid pod for a ${step.type} step`, () => {
      const pod = stepPod(input(step));
      expect(() => new Pod(JSON.parse(JSON.stringify(pod))).validate()).not.toThrow();
      expect(pod.spec?.restartPolicy).toBe("Never");
      expect(pod.spec?.enableServiceLinks).toBe(false);
      expect(pod.metadata?.ownerReferences?.[0]).toMatchObject({ kind: "Pod", name: "wharf-worker-xyz12" });
      expect(pod.spec?.containers[0]?.volumeMounts?.slice(0, 2)).toEqual([
        { name: "workspace", mountPath: "/workspace", subPath: "workspace" },
        { name: "workspace", mountPath: "/wharf-step-output", subPath: "step-output" },
      ]);
      for (const v of Object.values(pod.metadata?.labels ?? {})) expect(labelValue(v)).toBe(v);
    });
  }

  it("runs a container step's cmds in one shell under set -e, with its secret, account and certificates", () => {
    const pod = stepPod(input(steps[0]!));
    const c = pod.spec!.containers[0]!;
    expect(c.image).toBe("golang:1.22");
    // The script runs unchanged as `$1` of the wrapper that captures its output.
    expect(c.command).toEqual([
      "/bin/sh",
      "-c",
      expect.stringContaining(
        ">/wharf-step-output/step-1-0a1b2c3d.out 2>/wharf-step-output/step-1-0a1b2c3d.err",
      ),
      "/bin/sh",
      "set -e\ngo build ./...\necho done",
    ]);
    expect(c.envFrom).toEqual([{ secretRef: { name: "go-secrets" } }]);
    expect(c.env).toEqual([
      { name: "CI", value: "true" },
      { name: "WHARF_BUILD_REF", value: "42" },
    ]);
    expect(pod.spec?.serviceAccountName).toBe("builder");
    expect(c.volumeMounts).toContainEqual({
      name: "certificates",
      mountPath: "/etc/ssl/custom",
      readOnly: true,
    });
    expect(pod.spec?.volumes).toContainEqual({
      name: "certificates",
      configMap: { name: "ca-certificates-config" },
    });
  });

  it("runs the output-capturing wrapper with a POSIX shell, and the script with the step's own", () => {
    const step = structuredClone(steps[0]!) as Extract<PlanStep, { type: "container" }>;
    step.spec.shell = "pwsh";
    const c = stepPod({ ...input(step), run: stepRun(step) }).spec!.containers[0]!;
    expect([c.command?.[0], c.command?.[3], c.command?.[4]]).toEqual([
      "/bin/sh",
      "pwsh",
      "set -e\ngo build ./...\necho done",
    ]);
    const bash = structuredClone(step);
    bash.spec.shell = "/bin/bash";
    expect(stepPod({ ...input(bash), run: stepRun(bash) }).spec!.containers[0]!.command?.[0]).toBe(
      "/bin/bash",
    );
  });

  // wharf-cmd v0.9.1 pkg/steps/docker.go: one --destination per tag, args as --build-arg, the
  // registry secret's .dockerconfigjson projected as /kaniko/.docker/config.json, each secretArgs
  // `ARG=key` an env var from key `key` of the secretName Secret (secretKeyRef), passed as ARG.
  it("maps a docker step to kaniko with every tag, build args and the registry secret", () => {
    const run = stepRun(steps[1]!);
    expect(run.image).toBe(DEFAULT_STEP_IMAGES.kaniko);
    const script = run.command[2]!;
    expect(script).toContain("--destination=registry.example/team/app:v1");
    expect(script).toContain("--destination=registry.example/team/app:latest");
    expect(script).toContain("--build-arg=A=1");
    expect(script).toContain('--build-arg=TOKEN="$WHARF_SECRET_ARG_0"');
    expect(run.secretKeyEnv).toEqual([
      { name: "WHARF_SECRET_ARG_0", secretName: "build-secrets", key: "API_TOKEN" },
    ]);
    expect(run.envFromSecrets).toEqual([]);
    expect(run.secretMounts).toEqual([
      {
        secretName: "registry-auth",
        mountPath: "/kaniko/.docker",
        items: [{ key: ".dockerconfigjson", path: "config.json" }],
      },
    ]);
    expect(script).not.toContain("--cache");
    expect(script).not.toContain("root.crt");
  });

  it("gives the kaniko pod the destination and credentials, none of their values in the spec", () => {
    const docker = structuredClone(steps[1]!) as Extract<PlanStep, { type: "docker" }>;
    const project = { instance: "prod", projectId: "7" };
    const pod = stepPod({ ...input(docker), run: stepRun(docker, DEFAULT_STEP_IMAGES, project) });
    const container = pod.spec!.containers[0]!;
    expect(container.image).toBe(DEFAULT_STEP_IMAGES.kaniko);
    expect(container.command?.join("\n")).toContain("--destination=registry.example/team/app:v1");
    const volume = pod.spec!.volumes!.find((v) => v.secret?.secretName === "registry-auth");
    expect(volume?.secret?.items).toEqual([{ key: ".dockerconfigjson", path: "config.json" }]);
    expect(container.volumeMounts).toContainEqual(
      expect.objectContaining({ name: volume!.name, mountPath: "/kaniko/.docker" }),
    );
    expect(container.env).toContainEqual({
      name: "WHARF_SECRET_ARG_0",
      valueFrom: {
        secretKeyRef: { name: "wharf-prod-project-7-secretname-build-secrets", key: "API_TOKEN" },
      },
    });
    expect(container.envFrom ?? []).toEqual([]);
  });

  // wharf-cmd v0.9.1 pkg/worker/k8srunner.go: append-cert copies root.crt into the context and
  // appends a COPY of it and a RUN appending it to /etc/ssl/certs/ca-certificates.crt.
  it("appends the certificates ConfigMap's root.crt to a kaniko build with append-cert, leaving the workspace as it was", () => {
    const docker = structuredClone(steps[1]!) as Extract<PlanStep, { type: "docker" }>;
    docker.spec.appendCert = true;
    const run = stepRun(docker);
    const script = run.command[2]!;
    expect(run.certificatesMountPath).toBe("/kaniko/wharf-certs");
    expect(script).toContain("cp /kaniko/wharf-certs/root.crt /workspace/./root.crt");
    expect(script).toContain("--dockerfile=/kaniko/wharf-Dockerfile");
    expect(script).toContain("COPY ./root.crt /usr/local/share/ca-certificates/root.crt");
    expect(script).toContain(">> /etc/ssl/certs/ca-certificates.crt");
    expect(script).toContain("rm -f /workspace/./root.crt");
    const pod = stepPod(input(docker));
    expect(pod.spec!.volumes).toContainEqual(
      expect.objectContaining({ configMap: { name: "ca-certificates-config" } }),
    );
  });

  it("refuses secretArgs that are not ARG=key, or without secretName", () => {
    const docker = structuredClone(steps[1]!) as Extract<PlanStep, { type: "docker" }>;
    docker.spec.secretArgs = ["TOKEN"];
    expect(() => stepRun(docker)).toThrow(/must be ARG=secret-key/);
    docker.spec.secretArgs = ["TOKEN=key"];
    delete docker.spec.secretName;
    expect(() => stepRun(docker)).toThrow(/need secretName/);
  });

  it("gives kaniko --cache=false for a docker step with no-cache", () => {
    const step = structuredClone(steps[1]!) as Extract<PlanStep, { type: "docker" }>;
    step.spec.noCache = true;
    expect(stepRun(step).command[2]).toContain("--cache=false");
  });

  // wharf-cmd v0.9.1 pkg/steps/helm.go and kubectl.go: the kubeconfig is the ConfigMap named
  // by `cluster` (default "kubectl-config") mounted at /root/.kube; helm's `secret` is a
  // registry config.json mounted at /etc/helm/registry with HELM_REGISTRY_CONFIG pointing at it.
  it("gives helm and kubectl steps the kubeconfig ConfigMap `cluster` names, as wharf-cmd does", () => {
    const helm = stepRun(steps[2]!);
    expect(helm.image).toBe("alpine/helm:3.15.0");
    expect(helm.command[2]).toContain(
      "helm upgrade --install app app --namespace prod --repo https://charts.example --version 1.2.3 --values /workspace/values.yaml --set image.tag=v1",
    );
    expect(helm.configMapMounts).toEqual([
      { configMap: "kubectl-config", mountPath: "/root/.kube", credentials: true },
    ]);
    const kubectl = stepRun(steps[4]!);
    expect(kubectl.command[2]).toContain(
      "kubectl apply --namespace prod --force --filename /workspace/k8s/a.yaml --filename /workspace/k8s/b.yaml",
    );
    expect(kubectl.configMapMounts[0]?.configMap).toBe("prod-kubeconfig");
    expect(kubectl.env.KUBECONFIG).toBe("/root/.kube/config");
    const pod = stepPod({ ...input(steps[4]!), run: kubectl });
    expect(pod.spec?.volumes).toContainEqual({ name: "config-0", configMap: { name: "prod-kubeconfig" } });
    expect(pod.spec?.containers[0]?.volumeMounts).toContainEqual({
      name: "config-0",
      mountPath: "/root/.kube",
      readOnly: true,
    });
  });

  it("mounts a helm step's secret as the registry config, as wharf-cmd does", () => {
    const step = structuredClone(steps[2]!) as Extract<PlanStep, { type: "helm" }>;
    step.spec.secret = "helm-registry";
    const run = stepRun(step);
    expect(run.secretMounts).toEqual([
      {
        secretName: "helm-registry",
        mountPath: "/etc/helm/registry",
        items: [{ key: "config.json", path: "config.json" }],
      },
    ]);
    expect(run.env).toEqual({
      KUBECONFIG: "/root/.kube/config",
      HELM_REGISTRY_CONFIG: "/etc/helm/registry/config.json",
    });
  });

  // wharf-cmd v0.9.1 pkg/steps/container.go and docker.go: secretName x is the Secret
  // wharf-<instance>-project-<PROJECT_ID>-secretname-x.
  it("names a container or docker step's secretName Secret as wharf-cmd does when instance and project are known", () => {
    const project = { instance: "prod", projectId: "7" };
    expect(stepRun(steps[0]!, DEFAULT_STEP_IMAGES, project).envFromSecrets).toEqual([
      "wharf-prod-project-7-secretname-go-secrets",
    ]);
    const docker = structuredClone(steps[1]!) as Extract<PlanStep, { type: "docker" }>;
    docker.spec.secretName = "build-args";
    expect(stepRun(docker, DEFAULT_STEP_IMAGES, project).secretKeyEnv.map((e) => e.secretName)).toEqual([
      "wharf-prod-project-7-secretname-build-args",
    ]);
    // Run by hand (no instance or project): the name as written.
    expect(stepRun(steps[0]!).envFromSecrets).toEqual(["go-secrets"]);
  });

  // wharf-cmd v0.9.1 pkg/steps/nugetpackage.go: NUGET_TOKEN from Secret wharf-nuget-api-token, key token.
  it("gives a nuget-package step NUGET_TOKEN from wharf-cmd's Secret and key, never in the spec", () => {
    const nuget = steps.find((s) => s.type === "nuget-package")!;
    const pod = stepPod(input(nuget));
    expect(pod.spec?.containers[0]?.env).toContainEqual({
      name: "NUGET_TOKEN",
      valueFrom: { secretKeyRef: { name: "wharf-nuget-api-token", key: "token" } },
    });
    expect(pod.spec?.containers[0]?.envFrom).toBeUndefined();
  });

  it("refuses a docker step with nowhere to push", () => {
    const step = structuredClone(steps[1]!) as Extract<PlanStep, { type: "docker" }>;
    step.spec.name = undefined;
    expect(() => stepRun(step)).toThrow(StepSpecError);
  });

  it("builds a schema-valid workspace pod and claim", () => {
    const base = { buildRef: "build/42", labels: { "wharf.iver.com/build-ref": "build/42" } };
    const pod = workspacePod({ ...base, claimName: "c", image: "busybox:1.36" });
    expect(() => new Pod(JSON.parse(JSON.stringify(pod))).validate()).not.toThrow();
    const claim = workspaceClaim({ ...base, size: "1Gi", storageClassName: "fast" });
    expect(() => new PersistentVolumeClaim(JSON.parse(JSON.stringify(claim))).validate()).not.toThrow();
    expect(claim.spec?.resources?.requests).toEqual({ storage: "1Gi" });
    // The schema check is not vacuous: a container with a numeric image fails it.
    expect(() =>
      new Pod({
        metadata: { name: "x" },
        spec: { containers: [{ name: "c", image: 1 }] },
      } as never).validate(),
    ).toThrow();
  });
});

describe("names and labels", () => {
  it("makes any text a valid label value, keeping different texts apart", () => {
    expect(labelValue("plain-value")).toBe("plain-value");
    const a = labelValue("build image");
    const b = labelValue("build/image");
    expect(a).toMatch(/^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/);
    expect(a).not.toBe(b);
    expect(labelValue("x".repeat(100)).length).toBeLessThanOrEqual(63);
    expect(labelValue("---")).toMatch(/^[a-f0-9]{8}$/);
  });

  it("makes generateName prefixes that are DNS-1123 and short", () => {
    expect(namePrefix("wharf-step", "Build/42", "3")).toBe("wharf-step-build-42-3-");
    expect(namePrefix("x".repeat(100)).length).toBeLessThanOrEqual(57);
  });
});
