import { describe, expect, it } from "vitest";
import { type PlanStep, planPipeline } from "../src/index.js";

const y = (...lines: string[]) => `${lines.join("\n")}\n`;

/** Plans a single step given as the lines under `s: a:` and returns it (or the errors). */
function planOne(...stepLines: string[]): PlanStep {
  const r = planPipeline(y("s:", "  a:", ...stepLines.map((l) => `    ${l}`)));
  if (!r.plan) throw new Error(r.diagnostics.map((d) => `${d.line}:${d.column} ${d.message}`).join("\n"));
  return r.plan.stages[0]!.steps[0]!;
}

function missingFields(...stepLines: string[]): string[] {
  return planPipeline(y("s:", "  a:", ...stepLines.map((l) => `    ${l}`)))
    .diagnostics.map((d) => /missing required field "(.+)"/.exec(d.message)?.[1])
    .filter((m): m is string => m !== undefined);
}

describe("step types: fields, required fields and defaults", () => {
  it("container", () => {
    expect(missingFields("container:")).toEqual(["image", "cmds"]);
    const step = planOne("container:", "  image: busybox", "  cmds: [echo a, 42]");
    expect(step).toMatchObject({
      type: "container",
      spec: { image: "busybox", cmds: ["echo a", "42"], shell: "/bin/sh", os: "linux" },
    });
    const full = planOne(
      "container:",
      "  image: i",
      "  cmds: [x]",
      "  shell: /bin/bash",
      "  os: windows",
      "  secretName: s",
      "  serviceAccount: sa",
      "  certificatesMountPath: /certs",
    );
    expect(full.spec).toEqual({
      image: "i",
      cmds: ["x"],
      shell: "/bin/bash",
      os: "windows",
      secretName: "s",
      serviceAccount: "sa",
      certificatesMountPath: "/certs",
    });
  });

  it("docker: tag is split on commas, push defaults to true", () => {
    expect(missingFields("docker: {}")).toEqual(["file", "tag"]);
    const step = planOne("docker:", "  file: Dockerfile", "  tag: latest, v1.0 ,,v1");
    expect(step.spec).toEqual({
      file: "Dockerfile",
      tags: ["latest", "v1.0", "v1"],
      // No variables: the destination is the step's name (wharf-cmd docker.go:63).
      destination: "a",
      name: "a",
      context: ".",
      secret: "gitlab-registry",
      appendCert: false,
      push: true,
      args: [],
      secretArgs: [],
      noCache: false,
      pull: false,
    });
    const full = planOne(
      "docker:",
      "  file: build/Dockerfile",
      "  tag: 1.0",
      "  destination: reg/x",
      "  name: n",
      "  group: g",
      "  context: build",
      "  secret: sec",
      "  registry: r",
      "  append-cert: false",
      "  push: false",
      "  args: [A=1]",
      "  secretName: sn",
      "  secretArgs: [TOKEN=t]",
      "  no-cache: true",
      "  pull: true",
    );
    expect(full.spec).toEqual({
      file: "build/Dockerfile",
      tags: ["1.0"],
      destination: "reg/x",
      name: "n",
      group: "g",
      context: "build",
      secret: "sec",
      registry: "r",
      appendCert: false,
      push: false,
      args: ["A=1"],
      secretName: "sn",
      secretArgs: ["TOKEN=t"],
      noCache: true,
      pull: true,
    });
  });

  it("helm", () => {
    expect(missingFields("helm: {}")).toEqual(["chart", "name", "namespace"]);
    const step = planOne(
      "helm:",
      "  chart: c",
      "  name: n",
      "  namespace: ns",
      "  set: {a: 1, b: x}",
      "  files: [v.yaml]",
    );
    expect(step.spec).toEqual({
      chart: "c",
      name: "n",
      namespace: "ns",
      set: { a: "1", b: "x" },
      files: ["v.yaml"],
    });
    const full = planOne(
      "helm: {chart: c, name: n, namespace: ns, repo: r, chartVersion: 1.2.3, helmVersion: v3, cluster: k, secret: s}",
    );
    expect(full.spec).toMatchObject({
      repo: "r",
      chartVersion: "1.2.3",
      helmVersion: "v3",
      cluster: "k",
      secret: "s",
    });
  });

  it("helm-package has no required fields", () => {
    expect(planOne("helm-package:").spec).toEqual({});
    expect(
      planOne("helm-package: {version: 1.0.0, chart-path: charts/x, destination: d, secret: s}").spec,
    ).toEqual({
      version: "1.0.0",
      chartPath: "charts/x",
      destination: "d",
      secret: "s",
    });
  });

  it("kubectl: file or files, action defaults to apply", () => {
    expect(missingFields("kubectl: {namespace: x}")).toEqual(["file or files"]);
    expect(planOne("kubectl: {file: a.yml}").spec).toEqual({
      files: ["a.yml"],
      action: "apply",
      force: false,
    });
    expect(
      planOne("kubectl: {files: [a.yml, b.yml], action: delete, force: true, namespace: n, cluster: c}").spec,
    ).toEqual({
      files: ["a.yml", "b.yml"],
      action: "delete",
      force: true,
      namespace: "n",
      cluster: "c",
    });
  });

  it("nuget-package", () => {
    expect(missingFields("nuget-package: {}")).toEqual(["version", "project-path", "repo"]);
    expect(
      planOne("nuget-package: {version: 1.0.0, project-path: src/x.csproj, repo: https://nuget}").spec,
    ).toEqual({
      version: "1.0.0",
      projectPath: "src/x.csproj",
      repo: "https://nuget",
      skipDuplicate: false,
    });
  });

  it("wrong field types are errors with the field's position", () => {
    const r = planPipeline(
      y(
        "s:",
        "  a:",
        "    docker:",
        "      file: [x]",
        "      tag: t",
        "      push: maybe",
        "      args: A=1",
      ),
    );
    expect(r.plan).toBeNull();
    expect(r.diagnostics.map((d) => `${d.line}:${d.column} ${d.message}`)).toEqual([
      '4:13 field "file" must be a string, got a list',
      '6:13 field "push" must be true or false, got string "maybe"',
      '7:13 field "args" must be a list of strings, got string "A=1"',
    ]);
  });

  it("extensions: timeout, retries and artifacts", () => {
    const step = planOne(
      "container:",
      "  image: i",
      "  cmds: [x]",
      "  timeout: 1h30m",
      "  retries: 2",
      "  artifacts: [dist/**, '*.log']",
    );
    expect(step).toMatchObject({ timeoutMs: 5_400_000, retries: 2, artifacts: ["dist/**", "*.log"] });
    const plain = planOne("docker: {file: F, tag: t, timeout: 90}");
    expect(plain).toMatchObject({ timeoutMs: 90_000, retries: 0, artifacts: [] });
    expect(planOne("helm-package:").timeoutMs).toBeUndefined();
  });
});

describe("docker step defaults, as wharf-cmd v0.9.1 pkg/steps/docker.go", () => {
  const text = "s:\n  img:\n    docker:\n      file: Dockerfile\n      tag: latest\n";
  const planDocker = (t: string, vars: Record<string, string>) => {
    const step = planPipeline(t, { vars: [{ name: "vars", vars }] }).plan?.stages[0]?.steps[0];
    if (step?.type !== "docker") throw new Error("no docker step");
    return step.spec;
  };
  const vars = { REG_URL: "harbor.local", REPO_GROUP: "team", REPO_NAME: "app" };

  // docker.go:63 `s.Name = stepName`; docker.go:73-74 registry/group default to REG_URL/REPO_GROUP.
  it("defaults name to the step's name, registry to REG_URL and group to REPO_GROUP", () => {
    expect(planDocker(text, vars)).toMatchObject({ name: "img", registry: "harbor.local", group: "team" });
  });

  // docker.go:81-86: REG_URL/REPO_GROUP/REPO_NAME, plus "/" + name when name != REPO_NAME.
  it("derives destination REG_URL/REPO_GROUP/REPO_NAME[/name]", () => {
    expect(planDocker(text, vars).destination).toBe("harbor.local/team/app/img");
    expect(planDocker(text.replace("img:", "app:"), vars).destination).toBe("harbor.local/team/app");
    expect(planDocker(`${text}      name: app\n`, vars).destination).toBe("harbor.local/team/app");
    expect(planDocker(`${text}      name: Web\n`, vars).destination).toBe("harbor.local/team/app/Web");
    expect(planDocker(`${text}      destination: my/own\n      name: x\n`, vars).destination).toBe("my/own");
  });

  // docker.go:64 `s.Secret = "gitlab-registry"`, docker.go:101-105 REG_SECRET when no `secret` field.
  it('defaults secret to REG_SECRET, else "gitlab-registry"', () => {
    expect(planDocker(text, vars).secret).toBe("gitlab-registry");
    expect(planDocker(text, { ...vars, REG_SECRET: "harbor-push" }).secret).toBe("harbor-push");
    expect(planDocker(`${text}      secret: mine\n`, { ...vars, REG_SECRET: "x" }).secret).toBe("mine");
  });

  // docker.go:90-98: append-cert is true only for a derived destination whose group starts with "default".
  it('defaults append-cert to true only for a derived destination in a "default..." group', () => {
    expect(planDocker(text, { ...vars, REPO_GROUP: "Default/sub" }).appendCert).toBe(true);
    expect(planDocker(text, vars).appendCert).toBe(false);
    expect(planDocker(`${text}      destination: d\n`, { ...vars, REPO_GROUP: "default" }).appendCert).toBe(
      false,
    );
    expect(
      planDocker(`${text}      append-cert: false\n`, { ...vars, REPO_GROUP: "default" }).appendCert,
    ).toBe(false);
  });
});
