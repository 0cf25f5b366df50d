import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { HostSecrets } from "@wharf/executor-docker";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

// The secrets directory is laid out as Kubernetes mounts a Secret volume: a timestamped
// directory holding the files, `..data` linking to it and one link per key.
let dir: string;
beforeAll(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), "wharf-host-secrets-"));
  const mounted = path.join(dir, "wharf-ci-project-7-secretname-app");
  await fs.mkdir(path.join(mounted, "..2026_12_03_20_00_00.123"), { recursive: true });
  await fs.writeFile(path.join(mounted, "..2026_12_03_20_00_00.123", "api-token"), "tok-1234567\n");
  await fs.writeFile(path.join(mounted, "..2026_12_03_20_00_00.123", "DB_USER"), "builder");
  await fs.symlink("..2026_12_03_20_00_00.123", path.join(mounted, "..data"));
  await fs.symlink("..data/api-token", path.join(mounted, "api-token"));
  await fs.symlink("..data/DB_USER", path.join(mounted, "DB_USER"));
  await fs.mkdir(path.join(dir, "plain"));
  await fs.writeFile(path.join(dir, "plain", "key"), "value");
});
afterAll(async () => {
  if (dir) await fs.rm(dir, { recursive: true, force: true });
});

describe("HostSecrets", () => {
  it("reads a mounted Secret's keys through its links, values exactly as written, without the ..data entries", async () => {
    const secrets = new HostSecrets(dir, { instance: "ci", projectId: "7" });
    expect(await secrets.projectSecret("app")).toEqual({ "api-token": "tok-1234567\n", DB_USER: "builder" });
  });

  it("names a project Secret as written when the build has no instance or project", async () => {
    expect(await new HostSecrets(dir).projectSecret("plain")).toEqual({ key: "value" });
  });

  it("says which Secret is missing, and refuses names that could leave the directory", async () => {
    const secrets = new HostSecrets(dir);
    await expect(secrets.read("absent")).rejects.toThrow(
      'secret "absent" is not in the worker\'s secrets directory',
    );
    expect(await secrets.readIfPresent("absent")).toBeUndefined();
    await expect(secrets.read("../etc")).rejects.toThrow(/not a valid secret name/);
    await expect(secrets.read("a/b")).rejects.toThrow(/not a valid secret name/);
  });
});
