import type { BuildSpec, ContainerSpec, PlanStep } from "@wharf/executor";
import { CREATED_BY_EXECUTOR, LABEL_BUILD_REF, LABEL_CREATED_BY } from "@wharf/executor";
import { containerStep } from "@wharf/executor/testing";
import { describe, expect, it } from "vitest";
import {
  buildNetworkMode,
  networkCreateOptions,
  networkName,
  stepAlias,
  stepContainerOptions,
} from "../src/container-spec.js";

const build: BuildSpec = { buildRef: "42", sourceDir: "/src", labels: { team: "ci" }, env: {} };
const step = containerStep(3, ["true"], { image: "busybox", name: "Run DB" }) as PlanStep & {
  spec: ContainerSpec;
};
const settings = { init: true, workspacePath: "/workspace" };

describe("the build's network, as asked of the engine", () => {
  it("is a labelled bridge named after the build, like its workspace volume", () => {
    expect(networkCreateOptions(build)).toEqual({
      Name: "wharf-42-network",
      Driver: "bridge",
      CheckDuplicate: true,
      Labels: { team: "ci", [LABEL_BUILD_REF]: "42", [LABEL_CREATED_BY]: CREATED_BY_EXECUTOR },
    });
  });

  it('maps the setting "build" to the build\'s network and passes anything else through', () => {
    expect(buildNetworkMode("build", "42")).toBe(networkName("42"));
    for (const other of ["none", "host", "ci-net"]) expect(buildNetworkMode(other, "42")).toBe(other);
  });

  it("puts a step on the build's network under its step name as alias", () => {
    const spec = stepContainerOptions(
      build,
      step,
      {},
      { ...settings, network: "wharf-42-network", buildNetwork: true },
    );
    expect(spec.HostConfig?.NetworkMode).toBe("wharf-42-network");
    expect(spec.NetworkingConfig).toEqual({
      EndpointsConfig: { "wharf-42-network": { Aliases: ["run-db"] } },
    });
  });

  it("gives no alias on none, host or a network the executor did not create", () => {
    for (const network of ["none", "host", "ci-net"]) {
      const spec = stepContainerOptions(build, step, {}, { ...settings, network, buildNetwork: false });
      expect(spec.HostConfig?.NetworkMode).toBe(network);
      expect(spec.NetworkingConfig).toBeUndefined();
    }
  });

  it("makes DNS labels of step names", () => {
    expect(stepAlias("Lint it")).toBe("lint-it");
    expect(stepAlias("--db_2--")).toBe("db-2");
    expect(stepAlias("ÄÖ")).toBeUndefined();
    expect(stepAlias("x".repeat(80))).toHaveLength(63);
  });
});
