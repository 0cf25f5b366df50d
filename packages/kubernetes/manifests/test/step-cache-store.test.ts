import { execFileSync, spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  CACHE_GENERATION_GONE,
  CACHE_STORE_PATH,
  evictCacheCommand,
  listCacheCommand,
  packWorkspacePathsCommand,
  publishCacheCommand,
  readCacheCommand,
  unpackIntoWorkspaceCommand,
  WORKSPACE_PATH,
} from "../src/index.js";

/**
 * The step-cache store's commands as the store's and workspace pods run them: busybox's sh,
 * tar, head and friends (the default image is busybox), nothing of the host's in PATH. The
 * mount paths are host directories here, as in the fake cluster.
 */
const BUSYBOX = "/usr/bin/busybox";
let root = "";
let bin = "";
let store = "";
let workspace = "";

function run(command: string[], stdin?: Buffer) {
  const script = command[2]!.replaceAll(CACHE_STORE_PATH, store).replaceAll(WORKSPACE_PATH, workspace);
  const r = spawnSync(path.join(bin, "sh"), ["-c", script], {
    input: stdin ?? Buffer.alloc(0),
    env: { PATH: bin },
    cwd: root,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr.toString() };
}

describe.skipIf(!existsSync(BUSYBOX))("step-cache store commands on busybox", () => {
  beforeAll(async () => {
    root = await fs.mkdtemp(path.join(os.tmpdir(), "wharf-cache-store-"));
    bin = path.join(root, "bin");
    store = path.join(root, "store");
    workspace = path.join(root, "workspace");
    for (const d of [bin, store, workspace]) await fs.mkdir(d);
    execFileSync(BUSYBOX, ["--install", "-s", bin]);
  });
  afterAll(() => fs.rm(root, { recursive: true, force: true }));

  it("packs, publishes, lists, reads and restores a generation, then evicts it", async () => {
    await fs.mkdir(path.join(workspace, "deps/sub"), { recursive: true });
    await fs.writeFile(path.join(workspace, "deps/sub/a"), "a\n");
    await fs.symlink("a", path.join(workspace, "deps/sub/link"));
    expect(run(packWorkspacePathsCommand(["nothing-here"])).stdout.length).toBe(0);
    const packed = run(packWorkspacePathsCommand(["deps", "missing"]));
    expect(packed.code).toBe(0);

    const meta = { project: "p", branch: "it's", paths: ["deps"], bytes: 2 };
    const published = run(
      publishCacheCommand("k1", "000000000000001-aa", packed.stdout.length, meta, 5),
      packed.stdout,
    );
    expect(published).toMatchObject({ code: 0, stderr: "" });
    expect(await fs.readdir(path.join(store, ".staging"))).toEqual([]);
    const listed = run(listCacheCommand()).stdout.toString();
    expect(listed).toBe(`k1/000000000000001-aa 5 ${JSON.stringify(meta)}\n`);
    expect(run(listCacheCommand(["k2"])).stdout.toString()).toBe("");

    const read = run(readCacheCommand("k1", "000000000000001-aa", 9));
    expect(read.code).toBe(0);
    expect(run(listCacheCommand(["k1"])).stdout.toString()).toContain(" 9 ");
    await fs.rm(path.join(workspace, "deps"), { recursive: true });
    await fs.writeFile(path.join(workspace, "deps"), "a file in the way\n");
    const restored = run(
      unpackIntoWorkspaceCommand(["deps", "missing"], read.stdout.length, "t1"),
      read.stdout,
    );
    expect(restored).toMatchObject({ code: 0, stderr: "" });
    expect(await fs.readFile(path.join(workspace, "deps/sub/a"), "utf8")).toBe("a\n");
    expect(await fs.readlink(path.join(workspace, "deps/sub/link"))).toBe("a");
    expect((await fs.readdir(workspace)).sort()).toEqual(["deps"]);

    await fs.mkdir(path.join(store, ".staging/000000000000002-bb"), { recursive: true });
    expect(run(listCacheCommand()).stdout.toString()).toContain("staging 000000000000002-bb\n");
    expect(run(evictCacheCommand(["k1/000000000000001-aa"], ["000000000000002-bb"])).code).toBe(0);
    expect(run(listCacheCommand()).stdout.toString()).toBe("");
    expect(await fs.readdir(path.join(store, ".trash"))).toEqual([]);
    expect(run(readCacheCommand("k1", "000000000000001-aa", 10)).code).toBe(CACHE_GENERATION_GONE);
  });

  it("leaves nothing staged when the archive is cut short", async () => {
    const cut = run(publishCacheCommand("k3", "000000000000003-cc", 4096, {}, 1), Buffer.from("not a tar"));
    expect(cut.code).not.toBe(0);
    expect(await fs.readdir(path.join(store, ".staging"))).toEqual([]);
    expect(existsSync(path.join(store, "k3/000000000000003-cc"))).toBe(false);
  });
});
