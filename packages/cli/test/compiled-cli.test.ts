import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { wharfArgs } from "@wharf/testkit";
import { describe, expect, it } from "vitest";

const run = promisify(execFile);
const repoRoot = path.resolve(fileURLToPath(import.meta.url), "../../../..");
const dist = path.join(repoRoot, "packages/cli/dist");
const recordLoads = path.join(import.meta.dirname, "fixtures/record-loads.mjs");

/** Modules (repository paths) in each compiled file, as the build recorded them. */
const modulesOf = (): Record<string, string[]> =>
  JSON.parse(readFileSync(path.join(dist, "modules.json"), "utf8"));

/** Every module `wharf <args>` loads: the bundled ones through the chunks it loads, and the rest. */
async function sourcesLoadedBy(args: string[]): Promise<string[]> {
  const { stderr } = await run(process.execPath, ["--import", recordLoads, ...wharfArgs(args)], {
    cwd: repoRoot,
    env: { ...process.env, WHARF_LOG_LEVEL: "silent" },
  }).catch((err: { stderr: string; code: number }) => {
    // lint of an invalid file exits 1; what it loaded is what matters here.
    if (typeof err.code === "number" && err.code <= 2) return err;
    throw err;
  });
  const files = stderr
    .split("\n")
    .filter((l) => l.startsWith("loaded file://"))
    .map((l) => fileURLToPath(l.slice("loaded ".length)));
  expect(files.length).toBeGreaterThan(0);
  const modules = modulesOf();
  return files.flatMap((file) => {
    const inDist = path.dirname(file) === dist;
    return inDist ? (modules[path.basename(file)] ?? []).map((m) => `/${m}`) : [file];
  });
}

// What a command that does not talk to a service, a container engine or a database must not load.
const HEAVY =
  /\/(fastify|@fastify|@grpc|grpc-health-check|dockerode|docker-modem|@kubernetes|@electric-sql|pg|playwright-core)\//;

describe("the compiled CLI", () => {
  it.each([
    [["--help"]],
    [["--version"]],
    [["lint", "examples/hello"]],
    [["plan", "examples/parallel"]],
    [["logs", "--help"]],
    [["provisioner", "list", "--help"]],
  ])("wharf %j loads no server, engine, Kubernetes or database module", async (args) => {
    const sources = await sourcesLoadedBy(args);
    expect(sources.filter((s) => HEAVY.test(s))).toEqual([]);
  });

  it("loads gRPC and the worker service only for the command that needs them", async () => {
    const sources = await sourcesLoadedBy(["worker", "serve", "--help"]);
    expect(sources.filter((s) => HEAVY.test(s))).toEqual([]);
    // The check above can fail: `run` does load the executors and grpc-js, through the same chunks.
    const running = await sourcesLoadedBy(["run", "examples/nonexistent-dir"]);
    expect(running.some((s) => s.includes("/@grpc/grpc-js/"))).toBe(true);
    // ...and not the worker's HTTP server, which a worker loads only once its gRPC serves.
    expect(running.filter((s) => /\/(fastify|prom-client)\//.test(s))).toEqual([]);
  });

  it("prints its version and the git revision it was built from", async () => {
    const { stdout } = await run(process.execPath, wharfArgs(["--version"]));
    const version = JSON.parse(readFileSync(path.join(repoRoot, "package.json"), "utf8")).version;
    const { stdout: head } = await run("git", ["rev-parse", "--short=12", "HEAD"], { cwd: repoRoot });
    expect(stdout.trim()).toMatch(new RegExp(`^wharf ${version} \\(rev ${head.trim()}(-dirty)?\\)$`));
  });

  it("maps every compiled chunk of ours back to TypeScript sources that exist", async () => {
    const { readdirSync, existsSync } = await import("node:fs");
    const chunks = readdirSync(dist).filter((f) => f.endsWith(".mjs"));
    expect(chunks.length).toBeGreaterThan(5);
    // The maps cover our modules only (the build drops mappings into node_modules).
    expect(
      Object.values(modulesOf())
        .flat()
        .some((m) => m.includes("node_modules/@grpc/grpc-js/")),
    ).toBe(true);
    const ours: string[] = [];
    for (const chunk of chunks) {
      const map = JSON.parse(readFileSync(path.join(dist, `${chunk}.map`), "utf8")) as { sources: string[] };
      for (const s of map.sources) {
        const file = path.resolve(dist, s);
        if (file.includes("/node_modules/")) continue;
        expect(existsSync(file), `${chunk} → ${s}`).toBe(true);
        ours.push(file);
      }
    }
    expect(ours).toContain(path.join(repoRoot, "packages/cli/src/main.ts"));
    expect(ours).toContain(path.join(repoRoot, "services/worker/src/main.ts"));
  });
});
