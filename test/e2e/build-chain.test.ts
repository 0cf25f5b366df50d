import { randomBytes } from "node:crypto";
import net from "node:net";
import path from "node:path";
import { LABEL_WORKER_ID } from "@wharf/docker-backends";
import type { Worker } from "@wharf/provisioner";
import { BUSYBOX_IMAGE, requireDockerOrSkip } from "@wharf/testkit";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { type BuildTrigger, type E2eStack, startE2eStack, waitFor } from "./stack.js";
import { type StepGate, stepGate } from "./step-gate.js";

// The whole chain on real Docker and real Postgres: wharf-api's trigger → provisioner
// (docker backend) → worker container → step containers → gRPC → aggregator → wharf-api.
// One stack for the file; WHARF_MAX_WORKERS=1 so the queue case needs no stack of its own
// (every other case waits for its worker to be removed before the next starts).

const hasDocker = await requireDockerOrSkip();
const BUILD_TIMEOUT_MS = 90_000;

describe.skipIf(!hasDocker)("a build through provisioner, worker container, aggregator and wharf-api", () => {
  let stack: E2eStack;
  let gate: StepGate;
  beforeAll(async () => {
    stack = await startE2eStack({ pgUrl: inject("pgUrl"), maxWorkers: 1 });
    gate = stepGate();
  }, 600_000);

  afterAll(async () => {
    if (!stack) return;
    const left = await stack.close();
    // Nothing of any build may outlive the suite: containers, volumes, processes, the temp dir.
    expect(left).toEqual({ containers: [], volumes: [], networks: [], tmpDir: false, childProcesses: [] });
  }, 120_000);

  const repo = (name: string, files: Record<string, string | Buffer>) => stack.repo(name, files);

  /** wharf-api's final status for the build, once there is one. */
  const finalStatus = (buildRef: number) =>
    waitFor(
      `build ${buildRef} final at wharf-api`,
      () => stack.api.statusesFor(buildRef).find((s) => s === "Completed" || s === "Failed"),
      BUILD_TIMEOUT_MS,
    );

  const messages = (buildRef: number) => stack.api.logsFor(buildRef).map((l) => l.message);

  /** The aggregator released and removed the worker: not listed, no container, volume or network of it left. */
  const workerGone = (worker: Worker) =>
    waitFor(
      `worker ${worker.workerId} removed`,
      async () => {
        if ((await stack.listWorkers()).some((w) => w.workerId === worker.workerId)) return false;
        const left = await stack.leftovers(worker.workerId);
        return left.containers.length === 0 && left.volumes.length === 0 && left.networks.length === 0;
      },
      30_000,
    );

  /** Triggers a build of a fresh repo and waits until wharf-api has its result and the worker is gone. */
  async function build(
    n: number,
    name: string,
    files: Record<string, string | Buffer>,
    extra: Partial<BuildTrigger> = {},
  ) {
    const buildRef = stack.buildRef(n);
    const worker = await stack.trigger({ ...extra, buildRef, repo: await repo(name, files) });
    const final = await finalStatus(buildRef);
    await workerGone(worker);
    return { buildRef, worker, final };
  }

  /** Lines arrived exactly once and in the worker's order: log ids 1..n without gaps or repeats. */
  function expectEveryLineOnce(buildRef: number) {
    const ids = stack.api.logsFor(buildRef).map((l) => l.workerLogId);
    expect(ids).toEqual(ids.map((_, i) => i + 1));
  }

  it("success: every line arrives once and in order, status Running then Completed", async () => {
    const { buildRef, final } = await build(1, "success", {
      ".wharf-ci.yml": `build:
  count:
    container:
      image: ${BUSYBOX_IMAGE}
      cmds:
        - i=1; while [ $i -le 500 ]; do echo "line $i"; i=$((i+1)); done
`,
    });
    expect(final, messages(buildRef).join("\n")).toBe("Completed");
    expectEveryLineOnce(buildRef);
    expect(messages(buildRef).filter((m) => m.startsWith("line "))).toEqual(
      Array.from({ length: 500 }, (_, i) => `line ${i + 1}`),
    );
    expect(stack.api.statusesFor(buildRef)).toEqual(["Running", "Completed"]);
  }, 120_000);

  it("a failing step fails the build; later stages do not run", async () => {
    const { buildRef, final } = await build(2, "failing", {
      ".wharf-ci.yml": `build:
  fail:
    container:
      image: ${BUSYBOX_IMAGE}
      cmds:
        - echo "about to fail"
        - exit 3
deploy:
  never:
    container:
      image: ${BUSYBOX_IMAGE}
      cmds:
        - echo "deploy ran"
`,
    });
    expect(final).toBe("Failed");
    expect(stack.api.statusesFor(buildRef)).toEqual(["Running", "Failed"]);
    expectEveryLineOnce(buildRef);
    expect(messages(buildRef)).toContain("about to fail");
    expect(messages(buildRef)).not.toContain("deploy ran");
  }, 120_000);

  it("parallel steps of a stage run at once and both steps' lines arrive", async () => {
    // Each step waits (bounded) for the other's marker in the shared workspace: this
    // only succeeds when both run at the same time.
    const step = (me: string, other: string) => `
  ${me}:
    container:
      image: ${BUSYBOX_IMAGE}
      cmds:
        - touch .${me}-ready
        - i=0; until [ -f .${other}-ready ]; do i=$((i+1)); [ $i -le 600 ] || exit 1; usleep 100000; done
        - i=1; while [ $i -le 100 ]; do echo "${me} $i"; i=$((i+1)); done
`;
    const { buildRef, final } = await build(3, "parallel", {
      ".wharf-ci.yml": `build:${step("left", "right")}${step("right", "left")}`,
    });
    expect(final, messages(buildRef).join("\n")).toBe("Completed");
    expectEveryLineOnce(buildRef);
    const lines = stack.api.logsFor(buildRef);
    for (const me of ["left", "right"]) {
      const mine = lines.filter((l) => l.message.startsWith(`${me} `));
      expect(mine.map((l) => l.message)).toEqual(Array.from({ length: 100 }, (_, i) => `${me} ${i + 1}`));
      expect(new Set(mine.map((l) => l.workerStepId)).size).toBe(1);
    }
    const stepOf = (me: string) => lines.find((l) => l.message.startsWith(`${me} `))?.workerStepId;
    expect(stepOf("left")).not.toBe(stepOf("right"));
  }, 120_000);

  it("inputs from VARS (YAML) and the ENVIRONMENT's variables reach the steps", async () => {
    const { buildRef, final } = await build(
      4,
      "inputs",
      {
        ".wharf-ci.yml": `inputs:
  - name: greeting
    type: string
    default: hello
  - name: count
    type: number
    default: 1
environments:
  dev:
    TARGET: dev.example.invalid
  prod:
    TARGET: prod.example.invalid
build:
  say:
    container:
      image: ${BUSYBOX_IMAGE}
      cmds:
        - echo "greeting=\${greeting} count=\${count} target=\${TARGET}"
deploy-prod:
  environments: [prod]
  rollout:
    container:
      image: ${BUSYBOX_IMAGE}
      cmds:
        - echo "deployed to prod"
`,
      },
      { varsYaml: "greeting: hej från e2e\ncount: 3\n", environment: "dev" },
    );
    expect(final, messages(buildRef).join("\n")).toBe("Completed");
    expectEveryLineOnce(buildRef);
    expect(messages(buildRef)).toContain("greeting=hej från e2e count=3 target=dev.example.invalid");
    expect(messages(buildRef)).not.toContain("deployed to prod");
  }, 120_000);

  it("artifacts arrive at wharf-api byte for byte", async () => {
    const blob = randomBytes(256 * 1024);
    const { buildRef, final } = await build(5, "artifacts", {
      "fixtures/blob.bin": blob,
      ".wharf-ci.yml": `build:
  package:
    container:
      image: ${BUSYBOX_IMAGE}
      cmds:
        - mkdir -p dist
        - cp fixtures/blob.bin dist/blob.bin
        - seq 1 1000 > dist/numbers.txt
        - echo "not collected" > scratch.txt
      artifacts:
        - dist/*.bin
        - dist/*.txt
`,
    });
    expect(final, messages(buildRef).join("\n")).toBe("Completed");
    const artifacts = stack.api.artifacts.filter((a) => a.buildId === buildRef);
    const byName = new Map(artifacts.map((a) => [path.basename(a.fileName), a.bytes]));
    expect([...byName.keys()].sort()).toEqual(["blob.bin", "numbers.txt"]);
    expect(artifacts).toHaveLength(2);
    expect(byName.get("blob.bin")?.equals(blob)).toBe(true);
    const numbers = Array.from({ length: 1000 }, (_, i) => `${i + 1}\n`).join("");
    expect(byName.get("numbers.txt")?.toString("utf8")).toBe(numbers);
  }, 120_000);

  it("DELETE /api/worker/{id} cancels a running build: its last lines and Failed at wharf-api, no container left", async () => {
    const buildRef = stack.buildRef(100);
    const dir = await repo("cancel", {
      ".wharf-ci.yml": `build:
  wait:
    container:
      image: ${BUSYBOX_IMAGE}
      cmds:
        - echo "waiting to be cancelled"
        - sleep 300
deploy:
  never:
    container:
      image: ${BUSYBOX_IMAGE}
      cmds:
        - echo "deploy ran"
`,
    });
    const worker = await stack.trigger({ buildRef, repo: dir });
    // Status and log lines travel on separate streams: wait for both, so the build is
    // known Running at wharf-api before it is cancelled.
    await waitFor(
      "the build Running with its step's first line at wharf-api",
      () =>
        stack.api.statusesFor(buildRef).includes("Running") &&
        messages(buildRef).includes("waiting to be cancelled"),
      BUILD_TIMEOUT_MS,
    );
    // While it runs, the labels find the worker container, the step container and the workspace
    // volume: the leftover checks of this suite look in the right place.
    const running = await stack.leftovers(worker.workerId);
    expect(running.containers.length).toBeGreaterThanOrEqual(2);
    expect(running.volumes).toHaveLength(1);
    expect(running.networks).toHaveLength(1);

    expect(await stack.deleteWorker(worker.workerId)).toBe(204);
    // DELETE returns once the worker and its step containers are removed.
    expect((await stack.leftovers(worker.workerId)).containers).toEqual([]);
    expect(await finalStatus(buildRef)).toBe("Failed");
    expect(stack.api.statusesFor(buildRef)).toEqual(["Running", "Failed"]);
    // The stopped worker cancelled its build and waited for the aggregator: the lines written
    // after the DELETE arrived too, and no "[wharf] ... lost" diagnostic stands in for them.
    expect(messages(buildRef).some((m) => m.startsWith("cancelling the build: "))).toBe(true);
    expect(messages(buildRef).filter((m) => m.startsWith("[wharf]"))).toEqual([]);
    expectEveryLineOnce(buildRef);
    expect(messages(buildRef)).not.toContain("deploy ran");
    await workerGone(worker);
  }, 120_000);

  it("a step reaches no port of its worker: not on 127.0.0.1, not through its network's gateway", async () => {
    const buildRef = stack.buildRef(300);
    const probe = [
      `PORT=$(cat ${gate.file})`,
      "GW=$(ip route | awk '/^default/ {print $3}')",
      'for h in 127.0.0.1 $GW; do if nc -w 2 $h $PORT </dev/null 2>/dev/null; then echo "worker reached"; else echo "worker unreachable"; fi; done',
      '[ -n "$GW" ] && echo "gateway tried"',
    ].join("; ");
    const worker = await stack.trigger({
      buildRef,
      repo: await repo("probe", {
        ".wharf-ci.yml": `build:
  probe:
    container:
      image: ${BUSYBOX_IMAGE}
      cmds:
        - echo "probe waiting"
        - ${gate.waitCommand()}
        - ${JSON.stringify(probe)}
`,
      }),
    });
    await waitFor("probe step running", () => messages(buildRef).includes("probe waiting"), BUILD_TIMEOUT_MS);
    const address = await waitFor(
      "worker address",
      async () => (await stack.listWorkers()).find((w) => w.workerId === worker.workerId)?.address,
      BUILD_TIMEOUT_MS,
    );
    const port = Number(address.split(":").at(-1));
    // The worker does listen there: this process reaches it.
    await new Promise<void>((resolve, reject) => {
      const socket = net.connect(port, "127.0.0.1");
      socket.once("connect", () => {
        socket.destroy();
        resolve();
      });
      socket.once("error", reject);
    });
    await gate.open(`${LABEL_WORKER_ID}=${worker.workerId}`, String(port));
    expect(await finalStatus(buildRef)).toBe("Completed");
    const lines = messages(buildRef);
    expect(lines.filter((m) => m.startsWith("worker "))).toEqual([
      "worker unreachable",
      "worker unreachable",
    ]);
    expect(lines).toContain("gateway tried");
    await workerGone(worker);
  }, 120_000);

  it("two builds at once with WHARF_MAX_WORKERS=1: the second is Queued until the first ends, then runs", async () => {
    const first = stack.buildRef(200);
    const second = stack.buildRef(201);
    const pipeline = (name: string, wait: boolean) => `build:
  ${name}:
    container:
      image: ${BUSYBOX_IMAGE}
      cmds:
        - echo "${name} started"
${wait ? `        - ${gate.waitCommand()}\n` : ""}        - echo "${name} done"
`;
    const a = await stack.trigger({
      buildRef: first,
      repo: await repo("queue-first", { ".wharf-ci.yml": pipeline("first", true) }),
    });
    const b = await stack.trigger({
      buildRef: second,
      repo: await repo("queue-second", { ".wharf-ci.yml": pipeline("second", false) }),
    });
    expect(b.status).toBe("Queued");

    // The first build's step is running (and held by the gate): the second must still queue.
    await waitFor("first build running", () => messages(first).includes("first started"), BUILD_TIMEOUT_MS);
    // The provisioner learns a worker's status by polling it, so give the list a moment.
    const listed = await waitFor(
      "first worker listed Running",
      async () => {
        const workers = await stack.listWorkers();
        return workers.find((w) => w.workerId === a.workerId)?.status === "Running" ? workers : undefined;
      },
      BUILD_TIMEOUT_MS,
    );
    expect(listed.find((w) => w.workerId === b.workerId)).toMatchObject({ status: "Queued", address: null });
    expect(stack.api.statusesFor(second)).toEqual([]);

    await gate.open(`${LABEL_WORKER_ID}=${a.workerId}`);
    await waitFor(
      "both builds final",
      async () => {
        // Sampled while waiting: never more than one worker holds a slot.
        const active = (await stack.listWorkers()).filter((w) =>
          ["Scheduling", "Initializing", "Running"].includes(w.status),
        );
        expect(active.length).toBeLessThanOrEqual(1);
        return (
          stack.api.statusesFor(second).includes("Completed") &&
          stack.api.statusesFor(first).includes("Completed")
        );
      },
      BUILD_TIMEOUT_MS,
    );
    expect(stack.api.statusesFor(first)).toEqual(["Running", "Completed"]);
    expect(stack.api.statusesFor(second)).toEqual(["Running", "Completed"]);
    expect(messages(second)).toEqual(expect.arrayContaining(["second started", "second done"]));
    expectEveryLineOnce(first);
    expectEveryLineOnce(second);
    await workerGone(a);
    await workerGone(b);
  }, 180_000);
});
