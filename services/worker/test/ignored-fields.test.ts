import { spawn } from "node:child_process";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { BUSYBOX_IMAGE, requireDockerOrSkip, wharfArgs } from "@wharf/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

// Fields a backend cannot honour are said in the build log of their step, where the developer
// looks, not only in the service log: `wharf run` prints the build log as the worker stores it.
const hasDocker = await requireDockerOrSkip();

const PIPELINE = `build:
  k8s-fields:
    container:
      image: ${BUSYBOX_IMAGE}
      secretName: db-credentials
      serviceAccount: deployer
      certificatesMountPath: /usr/local/share/ca-certificates
      cmds:
        - echo step ran
  plain:
    container:
      image: ${BUSYBOX_IMAGE}
      cmds:
        - echo plain ran
`;

const IMAGE_PIPELINE = `build:
  image:
    docker:
      file: Dockerfile
      destination: wharf-test/ignored-fields
      tag: v1
      push: false
      append-cert: true
      secretName: nuget
      secretArgs:
        - NUGET_TOKEN=token
`;

let dir: string;
beforeAll(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), "wharf-ignored-"));
  await fs.mkdir(path.join(dir, "steps"));
  await fs.writeFile(path.join(dir, "steps", ".wharf-ci.yml"), PIPELINE);
  await fs.mkdir(path.join(dir, "image"));
  await fs.writeFile(path.join(dir, "image", ".wharf-ci.yml"), IMAGE_PIPELINE);
  await fs.writeFile(path.join(dir, "image", "Dockerfile"), `FROM ${BUSYBOX_IMAGE}\nRUN true\n`);
});
afterAll(async () => {
  if (hasDocker) {
    await new Promise((r) =>
      spawn("docker", ["image", "rm", "-f", "wharf-test/ignored-fields:v1"], { stdio: "ignore" }).on(
        "close",
        r,
      ),
    );
  }
  if (dir) await fs.rm(dir, { recursive: true, force: true });
});

/** `wharf run` as a user runs it; its stdout is the build log, `[stage/step] line`. */
function wharfRun(args: string[]): Promise<{ code: number | null; stdout: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, wharfArgs(["run", ...args]), {
      env: { ...process.env, WHARF_LOG_LEVEL: "error", NO_COLOR: "1" },
      stdio: ["ignore", "pipe", "inherit"],
    });
    let stdout = "";
    child.stdout.on("data", (d: Buffer) => {
      stdout += d.toString();
    });
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout }));
  });
}

const warnings = (stdout: string, step: string) =>
  stdout.split("\n").filter((l) => l.startsWith(`[build/${step}] warning: `));

describe("fields a backend cannot honour", () => {
  it("are warnings in the step's log on the local executor: the image and the Kubernetes fields", async () => {
    const r = await wharfRun([path.join(dir, "steps")]);
    expect(r.code, r.stdout).toBe(0);
    expect(r.stdout).toContain("[build/k8s-fields] step ran");
    const lines = warnings(r.stdout, "k8s-fields");
    expect(
      lines.map((l) => l.replace(/^.*warning: (\S+) is ignored by the local executor: .*$/, "$1")),
    ).toEqual(["image", "secretName", "serviceAccount", "certificatesMountPath"]);
    expect(warnings(r.stdout, "plain")).toEqual([
      expect.stringMatching(
        /warning: image is ignored by the local executor: the cmds run on the worker's host/,
      ),
    ]);
  }, 60_000);

  it.skipIf(!hasDocker)(
    "are warnings in the step's log on the docker executor: secretName, serviceAccount, certificatesMountPath",
    async () => {
      const r = await wharfRun([path.join(dir, "steps"), "--backend", "docker"]);
      expect(r.code, r.stdout).toBe(0);
      expect(r.stdout).toContain("[build/k8s-fields] step ran");
      const lines = warnings(r.stdout, "k8s-fields");
      expect(
        lines.map((l) => l.replace(/^.*warning: (\S+) is ignored by the docker executor: .*$/, "$1")),
      ).toEqual(["secretName", "serviceAccount", "certificatesMountPath"]);
      // The image is honoured there, and a step that asks for nothing else gets no warning.
      expect(warnings(r.stdout, "plain")).toEqual([]);
    },
    120_000,
  );

  it.skipIf(!hasDocker)(
    "are warnings in a docker step's log: append-cert, secretName, secretArgs",
    async () => {
      const r = await wharfRun([path.join(dir, "image"), "--backend", "docker"]);
      expect(r.code, r.stdout).toBe(0);
      const lines = warnings(r.stdout, "image");
      expect(
        lines.map((l) => l.replace(/^.*warning: (\S+) is ignored by the docker executor: .*$/, "$1")).sort(),
      ).toEqual(["append-cert", "secretArgs", "secretName"]);
    },
    180_000,
  );
});
