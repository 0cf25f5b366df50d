import { StepStartError } from "@wharf/executor";
import { type DockerSpec, planPipeline } from "@wharf/wharfyml";
import { describe, expect, it } from "vitest";
import { ImageBuildSpecError, imageBuildSpec } from "../src/image-build-spec.js";

const base: DockerSpec = {
  file: "Dockerfile",
  tags: ["1.0", "latest"],
  context: ".",
  appendCert: false,
  push: true,
  args: [],
  secretArgs: [],
  noCache: false,
  pull: false,
  name: "app",
};

describe("imageBuildSpec", () => {
  it("names the image from registry/group/name with one ref per tag", () => {
    const spec = imageBuildSpec({ ...base, registry: "reg.local:5000", group: "Team" }, {});
    expect(spec.refs).toEqual(["reg.local:5000/team/app:1.0", "reg.local:5000/team/app:latest"]);
    expect(spec).toMatchObject({ context: ".", dockerfile: "Dockerfile" });
  });

  it("prefers destination and makes the Dockerfile relative to the context", () => {
    const spec = imageBuildSpec(
      { ...base, destination: "x/y", context: "./svc/", file: "svc/build/Dockerfile" },
      {},
    );
    expect(spec).toMatchObject({
      context: "svc",
      dockerfile: "build/Dockerfile",
      refs: ["x/y:1.0", "x/y:latest"],
    });
  });

  it("takes KEY=VALUE build args and bare keys from the environment", () => {
    const spec = imageBuildSpec({ ...base, args: ["A=1=2", "B", "MISSING"] }, { B: "from-env" });
    expect(spec.buildArgs).toEqual({ A: "1=2", B: "from-env" });
  });

  it("refuses paths outside the workspace or a Dockerfile outside its context", () => {
    expect(() => imageBuildSpec({ ...base, context: "../up" }, {})).toThrow(/inside the workspace/);
    expect(() => imageBuildSpec({ ...base, file: "/etc/Dockerfile" }, {})).toThrow(/inside the workspace/);
    expect(() => imageBuildSpec({ ...base, context: "svc", file: "Dockerfile" }, {})).toThrow(
      /inside its context/,
    );
    expect(() => imageBuildSpec({ ...base, name: undefined }, {})).toThrow(/destination or a name/);
  });

  it("is a permanent start failure: the StepStartError wrapping it is not retried", () => {
    let caught: unknown;
    try {
      imageBuildSpec({ ...base, context: "../up" }, {});
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(ImageBuildSpecError);
    expect(new StepStartError("bad spec", 1, { cause: caught }).permanent).toBe(true);
  });
});

describe("imageBuildSpec with the planner's wharf-cmd defaults", () => {
  const plan = (stepName: string, fields: string, vars: Record<string, string>): DockerSpec => {
    const text = `s:\n  ${stepName}:\n    docker:\n      file: Dockerfile\n      tag: v1\n${fields}`;
    const step = planPipeline(text, { vars: [{ name: "wharf-vars", vars }] }).plan?.stages[0]?.steps[0];
    if (step?.type !== "docker") throw new Error("no docker step planned");
    return step.spec;
  };
  const vars = { REG_URL: "harbor.example", REPO_GROUP: "default/team", REPO_NAME: "app" };

  // wharf-cmd v0.9.1 pkg/steps/docker.go:81-86: destination = REG_URL/REPO_GROUP/REPO_NAME
  // when `name` (default: the step's name, docker.go:63) equals REPO_NAME, else .../REPO_NAME/name.
  it("builds REG_URL/REPO_GROUP/REPO_NAME when the step is named after the repository", () => {
    expect(imageBuildSpec(plan("app", "", vars), {}).refs).toEqual(["harbor.example/default/team/app:v1"]);
    expect(imageBuildSpec(plan("img", "      name: app\n", vars), {}).refs).toEqual([
      "harbor.example/default/team/app:v1",
    ]);
  });

  it("adds /<name> when the step's name differs from REPO_NAME", () => {
    expect(imageBuildSpec(plan("web", "", vars), {}).refs).toEqual([
      "harbor.example/default/team/app/web:v1",
    ]);
    expect(imageBuildSpec(plan("web", "      name: Api\n", vars), {}).refs).toEqual([
      "harbor.example/default/team/app/api:v1",
    ]);
  });

  // docker.go:73-74: `registry` and `group` fields override REG_URL and REPO_GROUP.
  it("lets registry and group override REG_URL and REPO_GROUP; destination wins over all", () => {
    expect(imageBuildSpec(plan("app", "      registry: r.io\n      group: g\n", vars), {}).refs).toEqual([
      "r.io/g/app:v1",
    ]);
    expect(imageBuildSpec(plan("app", "      destination: x/y\n", vars), {}).refs).toEqual(["x/y:v1"]);
  });

  it("leaves out what is unknown (no REG_URL on a laptop)", () => {
    expect(imageBuildSpec(plan("web", "", { REPO_NAME: "app" }), {}).refs).toEqual(["app/web:v1"]);
    expect(imageBuildSpec(plan("web", "", {}), {}).refs).toEqual(["web:v1"]);
  });
});
