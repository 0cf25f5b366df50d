import { execFile } from "node:child_process";
import { promisify } from "node:util";
import pg from "pg";
import { describe, expect, inject, it } from "vitest";
import { BUSYBOX_IMAGE, requireDockerOrSkip } from "../src/index.js";

const run = promisify(execFile);
const hasDocker = await requireDockerOrSkip();

describe("test infrastructure", () => {
  it("global setup started a reachable PostgreSQL", async () => {
    const client = new pg.Client({ connectionString: inject("pgUrl") });
    await client.connect();
    const { rows } = await client.query<{ v: string }>("select current_setting('server_version_num') as v");
    await client.end();
    expect(Number(rows[0]?.v)).toBeGreaterThanOrEqual(150000);
  });

  it.runIf(hasDocker)("busybox image runs a shell", async () => {
    const { stdout } = await run("docker", [
      "run",
      "--rm",
      "--network",
      "none",
      BUSYBOX_IMAGE,
      "sh",
      "-c",
      "echo hi $((1+1))",
    ]);
    expect(stdout.trim()).toBe("hi 2");
  });
});
