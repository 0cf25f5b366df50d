import { deployedEnv, namesRead } from "@wharf/testkit";
import { describe, expect, it } from "vitest";
import { compileOptions } from "../src/index.js";

describe.each(["kubernetes/services.yaml", "helm/wharf/templates/services.yaml"])("deploy/%s", (file) => {
  it("configures the provisioner with names it reads: kubernetes backend, worker image and account", () => {
    const env = deployedEnv(file, "provisioner");
    const { options, read } = namesRead(env, (env) => compileOptions(env, "/srv"));
    expect(Object.keys(env).filter((name) => !read.has(name))).toEqual([]);
    expect(options.backend).toMatchObject({ kind: "kubernetes", serviceAccountName: expect.any(String) });
    expect(options.token).toBeDefined();
    expect(options.databaseUrl).toBeDefined();
  });
});
