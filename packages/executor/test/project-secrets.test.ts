import { describe, expect, it } from "vitest";
import { projectSecretName } from "../src/index.js";

describe("projectSecretName", () => {
  // wharf-cmd v0.9.1 pkg/steps/container.go:113-117: "wharf-%s-project-%d-secretname-%s".
  it("names a step's secretName Secret as wharf-cmd does", () => {
    expect(projectSecretName({ instance: "local", projectId: "12" }, "db")).toBe(
      "wharf-local-project-12-secretname-db",
    );
  });

  it("uses the name as written without the build's instance and project", () => {
    expect(projectSecretName({}, "db")).toBe("db");
    expect(projectSecretName({ instance: "local" }, "db")).toBe("db");
  });
});
