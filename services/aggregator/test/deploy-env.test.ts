import { deployedEnv, namesRead } from "@wharf/testkit";
import { describe, expect, it } from "vitest";
import { compileOptions } from "../src/index.js";

describe.each(["kubernetes/services.yaml", "helm/wharf/templates/services.yaml"])("deploy/%s", (file) => {
  it("configures the aggregator with names it reads: kubernetes discovery through port-forward", () => {
    const env = deployedEnv(file, "aggregator");
    const { options, read } = namesRead(env, (env) => compileOptions(env, "aggregator", "/srv"));
    expect(Object.keys(env).filter((name) => !read.has(name))).toEqual([]);
    expect(options.discovery).toMatchObject({ kind: "kubernetes", connect: "port-forward" });
    expect(options.apiToken).toBeDefined();
    expect(options.workerToken).toBeDefined();
    expect(options.databaseUrl).toBeDefined();
  });
});
