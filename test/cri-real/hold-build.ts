import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { containerStep } from "@wharf/executor/testing";
import { CriExecutor } from "@wharf/executor-cri";

/**
 * A stand-in worker for the crash test: sets up build argv[2] with a step that sleeps, prints
 * "ready" and waits to be killed (SIGKILL: no destroyBuild runs). Args: build ref, work root.
 */
const [buildRef, workRoot] = process.argv.slice(2);
if (!buildRef || !workRoot) throw new Error("usage: hold-build.ts BUILD_REF WORK_ROOT");
const sourceDir = await fs.mkdtemp(path.join(os.tmpdir(), "wharf-src-"));
const executor = new CriExecutor({ endpoint: process.env.WHARF_CRI_TEST_ENDPOINT, workRoot });
const build = { buildRef, sourceDir, labels: {}, env: {} };
await executor.setupBuild(build);
const image = process.env.WHARF_CRI_TEST_IMAGE ?? "wharf-test/busybox:latest";
await executor.startStep(build, containerStep(1, ["sleep 600"], { image }), {});
await fs.rm(sourceDir, { recursive: true, force: true });
process.stdout.write("ready\n");
setInterval(() => undefined, 60_000);
