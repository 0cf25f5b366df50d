import { BUSYBOX_IMAGE, dockerSocketPath, requireDockerOrSkip, waitFor } from "@wharf/testkit";
import Docker from "dockerode";
import { afterAll, describe, expect, it } from "vitest";
import { gatedScript, isGateableShell } from "../src/container-spec.js";
import { ContainerStep } from "../src/container-step.js";

const hasDocker = await requireDockerOrSkip();
const docker = new Docker({ socketPath: dockerSocketPath() });
const LABEL = `wharf-test/step-gate=${process.pid}`;

/** A container as stepContainerOptions makes a gated step's: the script waits for its go on stdin. */
function gatedContainer(cmd: string): Docker.ContainerCreateOptions {
  return {
    Image: BUSYBOX_IMAGE,
    Entrypoint: ["sh", "-c", gatedScript(`set -e\n${cmd}`)],
    Cmd: [],
    Labels: { [LABEL.split("=")[0] as string]: String(process.pid) },
    OpenStdin: true,
    StdinOnce: true,
    AttachStdin: true,
    AttachStdout: true,
    AttachStderr: true,
    HostConfig: { NetworkMode: "none" },
  };
}

async function read(stream: NodeJS.ReadableStream): Promise<string> {
  let text = "";
  for await (const chunk of stream) text += chunk.toString();
  return text;
}

describe("gated step scripts", () => {
  it("gate POSIX shells only, keeping the commands' line numbers", () => {
    expect(["/bin/sh", "bash", "/usr/bin/dash", "/bin/ash"].every(isGateableShell)).toBe(true);
    expect(["pwsh", "/usr/bin/python3", "fish"].some(isGateableShell)).toBe(false);
    expect(gatedScript("set -e\necho a").split("\n")).toHaveLength(2);
  });
});

// The real engine (Docker, and Podman in its CI stage): the container runs before its go.
describe.skipIf(!hasDocker)("a gated step container", () => {
  afterAll(async () => {
    const left = await docker.listContainers({ all: true, filters: { label: [LABEL] } });
    await Promise.all(left.map((c) => docker.getContainer(c.Id).remove({ force: true })));
  });

  it("is running before its workspace is ready, and runs its commands only once told", async () => {
    let go!: () => void;
    const ready = new Promise<void>((r) => {
      go = r;
    });
    const starting = ContainerStep.start(docker, gatedContainer("echo ran"), {
      socketPath: dockerSocketPath(),
      ready,
    });
    let output = "";
    const running = await waitFor(
      "the gated container running",
      async () => {
        const [c] = await docker.listContainers({ filters: { label: [LABEL], status: ["running"] } });
        return c;
      },
      30_000,
    );
    expect(running.State).toBe("running");
    // Started, network and all, yet its command waits: nothing written.
    const before = await docker.getContainer(running.Id).logs({ stdout: true, stderr: true });
    expect(before.length).toBe(0);
    go();
    const step = await starting;
    const out = read(step.stdout).then((t) => {
      output = t;
    });
    expect(await step.wait()).toBe(0);
    await out;
    expect(output).toBe("ran\n");
    await step.destroy();
  }, 60_000);

  it("never runs its commands when the workspace's copy fails: its output ends with that error", async () => {
    const failed = new Error("could not copy the source into the workspace: test");
    const ready = Promise.reject(failed);
    ready.catch(() => {}); // as the executor's copy is: told through the step, not unhandled
    const step = await ContainerStep.start(docker, gatedContainer("echo ran"), {
      socketPath: dockerSocketPath(),
      ready,
    });
    const out = read(step.stdout).then(
      (text) => ({ text, err: undefined as unknown }),
      (err: unknown) => ({ text: "", err }),
    );
    expect(await step.wait()).toBe(125); // its script ended before any command
    expect((await out).err).toBe(failed);
    const logs = await docker.getContainer(step.id).logs({ stdout: true, stderr: true });
    expect(logs.toString()).not.toContain("ran");
    await step.destroy();
  }, 60_000);

  it("stopped before its go (a cancel while the workspace is copied), runs none of its commands", async () => {
    let go!: () => void;
    const ready = new Promise<void>((r) => {
      go = r;
    });
    const step = await ContainerStep.start(docker, gatedContainer("echo ran"), {
      socketPath: dockerSocketPath(),
      ready,
    });
    await step.stop(5_000);
    go(); // the copy ends after the cancel: nothing is told
    expect(await step.wait()).toBe(125);
    const logs = await docker.getContainer(step.id).logs({ stdout: true, stderr: true });
    expect(logs.toString()).not.toContain("ran");
    await step.destroy();
    expect(await docker.listContainers({ all: true, filters: { label: [LABEL] } })).toEqual([]);
  }, 60_000);
});
