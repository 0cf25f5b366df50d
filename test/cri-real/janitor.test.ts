import { execFile, spawn } from "node:child_process";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { LABEL_BUILD_REF } from "@wharf/executor";
import { OutputCollector } from "@wharf/executor/testing";
import { CriExecutor } from "@wharf/executor-cri";
import { wharfArgs } from "@wharf/testkit";
import { afterAll, describe, expect, it } from "vitest";
import { CRI_DIR, CRI_ENDPOINT, mountsUnder } from "./cri-runtime.js";

const run = promisify(execFile);

/**
 * `wharf janitor --cri` (the built CLI; the root test run builds it) against the real
 * containerd: what a killed worker left goes, a live worker's build stays.
 */
const workRoot = path.join(os.tmpdir(), `wharf-cri-janitor-${process.pid}`);
const runtime = new CriExecutor({ endpoint: CRI_ENDPOINT ?? "unix:///nonexistent", workRoot });

async function janitor(args: string[], env: Record<string, string> = {}) {
  try {
    const { stdout, stderr } = await run(process.execPath, wharfArgs(["janitor", "--cri", ...args]), {
      env: {
        ...process.env,
        WHARF_CRI_ENDPOINT: CRI_ENDPOINT,
        WHARF_CRI_WORK_ROOT: workRoot,
        WHARF_LOG_LEVEL: "warn",
        ...env,
      },
      timeout: 60_000,
    });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

describe.skipIf(!CRI_ENDPOINT)("wharf janitor --cri (WHARF_CRI_TEST_ENDPOINT)", () => {
  afterAll(async () => {
    runtime.close();
    await fs.rm(workRoot, { recursive: true, force: true });
  });

  it("leaves a live worker's build, lists and then removes a killed one's, its build directory too", async () => {
    const ref = `janitor-${process.pid}-${Date.now().toString(36)}`;
    const hold = path.join(path.dirname(fileURLToPath(import.meta.url)), "hold-build.ts");
    const child = spawn(process.execPath, ["--import", "tsx", hold, ref, workRoot], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    const exited = new Promise((resolve) => child.once("exit", resolve));
    let held: Awaited<ReturnType<typeof runtime.findLeftovers>>;
    try {
      await new OutputCollector(child.stdout).waitFor("ready", 40_000);
      held = await runtime.findLeftovers({ [LABEL_BUILD_REF]: ref });
      expect([held.sandboxes.length, held.containers.length]).toEqual([1, 1]);
      const live = await janitor([]);
      expect(live, live.stderr).toMatchObject({ code: 0 });
      expect(live.stdout).toContain("removed 0 sandbox(es) and 0 container(s) of 0 dead worker(s)");
      expect(await runtime.findLeftovers({ [LABEL_BUILD_REF]: ref })).toEqual(held);
    } finally {
      child.kill("SIGKILL");
      await exited;
    }

    const dry = await janitor(["--dry-run", "--json"]);
    expect(dry.code, dry.stderr).toBe(0);
    const report = JSON.parse(dry.stdout) as {
      dryRun: boolean;
      owners: { buildRefs: string[]; sandboxes: string[] }[];
    };
    expect(report.dryRun).toBe(true);
    expect(report.owners).toEqual([
      expect.objectContaining({ buildRefs: [ref], sandboxes: held.sandboxes, containers: held.containers }),
    ]);
    expect(await runtime.findLeftovers({ [LABEL_BUILD_REF]: ref })).toEqual(held);

    const wet = await janitor([]);
    expect(wet.code, wet.stderr).toBe(0);
    expect(wet.stdout).toMatch(
      new RegExp(`removed 1 sandbox\\(es\\), 1 container\\(s\\) of dead worker .* \\(builds ${ref}\\)`),
    );
    expect(await runtime.findLeftovers({ [LABEL_BUILD_REF]: ref })).toEqual({
      sandboxes: [],
      containers: [],
      buildRefs: [],
    });
    expect(await fs.readdir(workRoot)).toEqual([]);
    expect(await mountsUnder(CRI_DIR)).toEqual([]);
  }, 120_000);

  it("says what is wrong: Docker engine options (2), a relative work root (2), no runtime (1)", async () => {
    const images = await janitor(["--images"]);
    expect(images.code).toBe(2);
    expect(images.stderr).toContain("--cri does not take --images (Docker engine options)");
    const relative = await janitor([], { WHARF_CRI_WORK_ROOT: "builds" });
    expect(relative.code).toBe(2);
    expect(relative.stderr).toContain(
      'WHARF_CRI_WORK_ROOT must be an absolute path of the runtime\'s host, got "builds"',
    );
    const none = await janitor([], { WHARF_CRI_ENDPOINT: "unix:///nonexistent/wharf-cri.sock" });
    expect(none.code).toBe(1);
    expect(none.stderr).toContain("CRI runtime at unix:///nonexistent/wharf-cri.sock does not answer");
  }, 120_000);
});
