import net from "node:net";
import type { Logger } from "@wharf/config";
import {
  type BuildSpec,
  CREATED_BY_EXECUTOR,
  ExecutorError,
  LABEL_BUILD_REF,
  LABEL_CREATED_BY,
} from "@wharf/executor";
import {
  containerStep,
  finish,
  makeBuild,
  OutputCollector,
  removeSource,
  runExecutorConformance,
  withExecutorBuild,
} from "@wharf/executor/testing";
import { DockerExecutor } from "@wharf/executor-docker";
import { BUSYBOX_IMAGE, containersWithLabel, ensureBusyboxImage, requireDockerOrSkip } from "@wharf/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { networkName } from "../src/container-spec.js";

/**
 * The default network setting ("build"): each build gets a user-defined bridge network of its
 * own. Steps of the build reach each other on it; they do not share the worker's loopback, so
 * a port the worker listens on (127.0.0.1) is out of their reach; the network goes with the build.
 *
 * Network policy of this file: the only non-loopback traffic goes from step containers to
 * other step containers and to the gateway address of the network the executor created for
 * the test's own build, all on this machine.
 */

const hasDocker = await requireDockerOrSkip();
const executor = new DockerExecutor();

/** Whether this engine can create a bridge network at all (Docker with --bridge=none can, here). */
async function engineCreatesBridges(): Promise<boolean> {
  if (!hasDocker) return false;
  const name = `wharf-probe-${process.pid}-${Date.now().toString(36)}`;
  try {
    const network = await executor.docker.createNetwork({ Name: name, Driver: "bridge" });
    await network.remove();
    return true;
  } catch {
    return false;
  }
}
const bridges = await engineCreatesBridges();

async function networkStatus(name: string): Promise<number | "exists"> {
  try {
    await executor.docker.getNetwork(name).inspect();
    return "exists";
  } catch (err) {
    return (err as { statusCode?: number }).statusCode ?? -1;
  }
}

/** An executor whose engine refuses to create networks, as one without bridge networks does. */
function refusingNetworks(): DockerExecutor {
  const refusing = new DockerExecutor();
  refusing.docker.createNetwork = (async () => {
    throw Object.assign(new Error("(HTTP code 500) server error - bridge networks are disabled"), {
      statusCode: 500,
    });
  }) as typeof refusing.docker.createNetwork;
  return refusing;
}

async function assertBuildGone(build: BuildSpec): Promise<void> {
  expect(await executor.findLeftovers({ [LABEL_BUILD_REF]: build.buildRef })).toEqual({
    containers: [],
    volumes: [],
    networks: [],
  });
  expect(await containersWithLabel(`${LABEL_BUILD_REF}=${build.buildRef}`)).toEqual([]);
  expect(await networkStatus(networkName(build.buildRef))).toBe(404);
}

/** A TCP server standing for the worker's gRPC port: on loopback, as the test process is the worker. */
async function listenAsWorker(): Promise<{
  port: number;
  connections: () => number;
  close: () => Promise<void>;
}> {
  let count = 0;
  const server = net.createServer((socket) => {
    count += 1;
    socket.end("worker-answered\n");
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", resolve);
  });
  const port = (server.address() as net.AddressInfo).port;
  return {
    port,
    connections: () => count,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** busybox `nc` exits 0 once it connected (printing what the peer sent), 1 when refused or timed out. */
const probe = (label: string, host: string, port: number | string) =>
  `if nc -w 2 ${host} ${port} </dev/null; then echo "${label}: reached"; else echo "${label}: unreachable"; fi`;

describe.skipIf(!hasDocker)("docker executor: the build's own network (default setting)", () => {
  beforeAll(async () => {
    await ensureBusyboxImage();
  });

  describe.skipIf(!bridges)("on an engine that creates bridge networks", () => {
    runExecutorConformance({
      name: "docker (build network)",
      create: () => executor,
      image: BUSYBOX_IMAGE,
      assertBuildGone,
    });

    let worker: Awaited<ReturnType<typeof listenAsWorker>>;
    beforeAll(async () => {
      worker = await listenAsWorker();
    });
    afterAll(async () => {
      await worker?.close();
    });

    it("steps of a build reach each other by step name, not a port the worker listens on; the network goes with the build", async () => {
      let built: BuildSpec | undefined;
      await withExecutorBuild(
        executor,
        {},
        async (build) => {
          built = build;
          const name = networkName(build.buildRef);
          const network = (await executor.docker.getNetwork(name).inspect()) as {
            Driver: string;
            Labels: Record<string, string>;
            IPAM: { Config?: { Gateway?: string }[] };
          };
          expect(network.Driver).toBe("bridge");
          expect(network.Labels).toMatchObject({
            [LABEL_BUILD_REF]: build.buildRef,
            [LABEL_CREATED_BY]: CREATED_BY_EXECUTOR,
          });
          const gateway = network.IPAM.Config?.[0]?.Gateway;

          const peer = await executor.startStep(
            build,
            containerStep(1, ["echo hello-from-peer > /tmp/m", "nc -ll -p 8080 -e cat /tmp/m"], {
              image: BUSYBOX_IMAGE,
              name: "Peer",
            }),
            {},
          );
          try {
            new OutputCollector(peer.stdout);
            new OutputCollector(peer.stderr);
            const client = await executor.startStep(
              build,
              containerStep(
                2,
                [
                  // The peer may not listen yet: ask again for up to ~10 s.
                  "for i in $(seq 1 20); do nc -w 2 peer 8080 </dev/null && break; sleep 0.5; done",
                  probe("worker on loopback", "127.0.0.1", worker.port),
                  ...(gateway ? [probe("worker through the gateway", gateway, worker.port)] : []),
                  "cat /etc/hosts >&2",
                ],
                { image: BUSYBOX_IMAGE, name: "client" },
              ),
              {},
            );
            const r = await finish(client);
            expect(r.code).toBe(0);
            expect(r.stdout).toContain("hello-from-peer\n");
            expect(r.stdout).toContain("worker on loopback: unreachable\n");
            if (gateway) expect(r.stdout).toContain("worker through the gateway: unreachable\n");
            expect(r.stdout).not.toContain("worker-answered");
            expect(worker.connections()).toBe(0);
          } finally {
            await peer.destroy();
          }
          // Control: the worker's port does answer on this machine, so "unreachable" above is the network's doing.
          const answer = await new Promise<string>((resolve, reject) => {
            const socket = net.connect(worker.port, "127.0.0.1");
            let text = "";
            socket.on("data", (d) => {
              text += d.toString();
            });
            socket.on("end", () => resolve(text));
            socket.on("error", reject);
          });
          expect(answer).toBe("worker-answered\n");
        },
        { assertGone: assertBuildGone },
      );
      expect(built).toBeDefined();
    });

    it("builds the image of a docker step on the build's network", async () => {
      const repo = `wharf-test/on-network-${process.pid}`;
      const files = { Dockerfile: `FROM ${BUSYBOX_IMAGE}\nRUN echo built-on-network > /m\n` };
      try {
        await withExecutorBuild(
          executor,
          files,
          async (build) => {
            const step = {
              ...containerStep(1, []),
              type: "docker" as const,
              spec: {
                file: "Dockerfile",
                context: ".",
                tags: ["t"],
                destination: repo,
                appendCert: false,
                push: false,
                args: [],
                secretArgs: [],
                noCache: false,
                pull: false,
              },
            };
            const built = await finish(await executor.startStep(build, step, {}));
            expect(built.stderr).toBe("");
            expect(built).toMatchObject({ code: 0 });
            const r = await finish(
              await executor.startStep(build, containerStep(2, ["cat /m"], { image: `${repo}:t` }), {}),
            );
            expect(r).toEqual({ code: 0, stdout: "built-on-network\n", stderr: "" });
          },
          { assertGone: assertBuildGone },
        );
      } finally {
        await executor.docker
          .getImage(`${repo}:t`)
          .remove({ force: true })
          .catch(() => {});
      }
    });

    it("removes the network of a build destroyed while its step still runs", async () => {
      const build = await makeBuild();
      try {
        await executor.setupBuild(build);
        const proc = await executor.startStep(
          build,
          containerStep(1, ["echo started", "sleep 60"], { image: BUSYBOX_IMAGE }),
          {},
        );
        const out = new OutputCollector(proc.stdout);
        new OutputCollector(proc.stderr);
        await out.waitFor("started");
        expect(await networkStatus(networkName(build.buildRef))).toBe("exists");
        await executor.destroyBuild(build);
        expect(await proc.wait()).not.toBe(0);
        await proc.destroy();
        await assertBuildGone(build);
      } finally {
        await executor.destroyBuild(build);
        await removeSource(build);
      }
    });

    it("a fresh executor (worker restart) finds and removes the network of a crashed build", async () => {
      const build = await makeBuild();
      try {
        await executor.setupBuild(build);
        const proc = await executor.startStep(
          build,
          containerStep(1, ["sleep 60"], { image: BUSYBOX_IMAGE }),
          {},
        );
        void finish(proc);
        const restarted = new DockerExecutor();
        const found = await restarted.findLeftovers({ [LABEL_BUILD_REF]: build.buildRef });
        expect(found.networks).toEqual([networkName(build.buildRef)]);
        expect(found.containers).toHaveLength(2); // the step and the workspace helper
        expect(found.volumes).toHaveLength(1);
        expect(await restarted.removeLeftovers({ [LABEL_BUILD_REF]: build.buildRef })).toEqual(found);
        expect(await proc.wait()).not.toBe(0);
        await proc.destroy();
        await assertBuildGone(build);
      } finally {
        await executor.destroyBuild(build);
        await removeSource(build);
      }
    });

    it("makes the network ahead when asked (prepareBuild), and removes it when the build is never set up", async () => {
      const build = await makeBuild({ "a.txt": "from the checkout" });
      const { sourceDir: _, ...ahead } = build;
      try {
        await executor.prepareBuild(ahead);
        // Before the source is there: the network and the (empty) workspace volume are.
        expect(await networkStatus(networkName(build.buildRef))).toBe("exists");
        expect((await executor.findLeftovers({ [LABEL_BUILD_REF]: build.buildRef })).volumes).toHaveLength(1);
        await executor.setupBuild(build);
        const r = await finish(
          await executor.startStep(build, containerStep(1, ["cat a.txt"], { image: BUSYBOX_IMAGE }), {}),
        );
        expect(r).toMatchObject({ code: 0, stdout: "from the checkout" });
      } finally {
        await executor.destroyBuild(build);
      }
      await assertBuildGone(build);
      // A build prepared whose checkout or plan then failed: destroyBuild alone cleans up.
      const failed = await makeBuild();
      const { sourceDir: __, ...failedAhead } = failed;
      try {
        void executor.prepareBuild(failedAhead);
        await executor.destroyBuild(failedAhead);
        expect(await networkStatus(networkName(failed.buildRef))).toBe(404);
      } finally {
        await removeSource(failed);
        await removeSource(build);
      }
      await assertBuildGone(failed);
    });

    it("starts a retried setup of the same build ref from a fresh network", async () => {
      const build = await makeBuild();
      try {
        await executor.setupBuild(build);
        await executor.setupBuild(build);
        expect(await networkStatus(networkName(build.buildRef))).toBe("exists");
      } finally {
        await executor.destroyBuild(build);
        await removeSource(build);
      }
      await assertBuildGone(build);
    });
  });

  it("fails the setup with what to set when the engine refuses the network", async () => {
    const refusing = refusingNetworks();
    const build = await makeBuild();
    try {
      const err = await refusing.setupBuild(build).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ExecutorError);
      expect((err as Error).message).toBe(
        `the container engine cannot create the build's network ${networkName(build.buildRef)} (bridge driver): ` +
          '(HTTP code 500) server error - bridge networks are disabled; set WHARF_DOCKER_NETWORK to "none" ' +
          "(steps without a network) or to the name of an existing network",
      );
    } finally {
      await refusing.destroyBuild(build);
      await removeSource(build);
    }
    await assertBuildGone(build);
  });

  it("tells a network the engine refused ahead (prepareBuild) at setup, with what to set", async () => {
    const refusing = refusingNetworks();
    const build = await makeBuild();
    try {
      await expect(refusing.prepareBuild(build)).rejects.toThrow(/set WHARF_DOCKER_NETWORK/);
      await expect(refusing.setupBuild(build)).rejects.toThrow(/cannot create the build's network/);
    } finally {
      await refusing.destroyBuild(build);
      await removeSource(build);
    }
    await assertBuildGone(build);
  });

  it('runs steps without any network under "none"', async () => {
    const none = new DockerExecutor({ networkMode: "none" });
    await withExecutorBuild(
      none,
      {},
      async (build) => {
        expect(await networkStatus(networkName(build.buildRef))).toBe(404);
        const r = await finish(
          await none.startStep(
            build,
            containerStep(1, ["ip -o link | cut -d: -f2"], { image: BUSYBOX_IMAGE }),
            {},
          ),
        );
        expect(r).toMatchObject({ code: 0, stdout: " lo\n" });
      },
      { assertGone: assertBuildGone },
    );
  });
});

describe("docker executor: network setting", () => {
  it("warns when steps are put on the host network", () => {
    const warnings: unknown[][] = [];
    const logger = { warn: (...args: unknown[]) => warnings.push(args) } as unknown as Logger;
    new DockerExecutor({ networkMode: "host", logger, socketPath: "/nonexistent/docker.sock" });
    expect(warnings).toHaveLength(1);
    expect(String(warnings[0]?.[1])).toContain("step containers run on the host network");
    new DockerExecutor({ logger, socketPath: "/nonexistent/docker.sock" });
    new DockerExecutor({ networkMode: "none", logger, socketPath: "/nonexistent/docker.sock" });
    expect(warnings).toHaveLength(1);
  });
});
