import type { DockerSpec } from "@wharf/wharfyml";
import { describe, expect, it } from "vitest";
import { imageBuildSpec } from "../src/image-build-spec.js";

const base: DockerSpec = {
  file: "Dockerfile",
  tags: ["1.0", "latest"],
  context: ".",
  appendCert: false,
  push: true,
  args: [],
  secretArgs: [],
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
});
