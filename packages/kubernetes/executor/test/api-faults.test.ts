import { StepStartError } from "@wharf/executor";
import { afterEach, describe, expect, it } from "vitest";
import { buildSpec, containerStep, readAll, startHarness } from "./kube-harness.js";

let h: Awaited<ReturnType<typeof startHarness>> | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

/** Fails instead of hanging when `p` does not settle within `ms`. */
async function within<T>(ms: number, what: string, p: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not settle within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([p, late]);
  } finally {
    clearTimeout(timer);
  }
}

/** Reads of a pod object (not its log). */
const podReads = { verb: "get", resource: "pods", subresource: "" } as const;

describe("Kubernetes API calls that hang or fail for a moment", () => {
  it("the start timeout binds when a pod status read hangs", async () => {
    h = await startHarness({ startTimeoutMs: 1500 });
    const build = buildSpec(h.sourceDir);
    await h.executor.setupBuild(build);
    h.fake.injectFault({ ...podReads, action: { kind: "hang" }, times: 1 });
    const started = Date.now();
    const err = await within(
      8000,
      "startStep",
      h.executor.startStep(build, containerStep(1, ["echo never"]), {}).catch((e: unknown) => e),
    );
    expect(err).toBeInstanceOf(StepStartError);
    expect((err as Error).message).toMatch(/did not start within 1500 ms/);
    expect(Date.now() - started).toBeLessThan(4000);
    await h.executor.destroyBuild(build);
  });

  it("aborts a read that gets no answer within the request timeout and tries again", async () => {
    h = await startHarness({ apiCalls: { requestTimeoutMs: 300, backoffMs: 20 } });
    const build = buildSpec(h.sourceDir);
    await h.executor.setupBuild(build);
    const hungReads = h.fake.injectFault({ ...podReads, action: { kind: "hang" }, times: 2 });
    // The exec that reads the step's output: its upgrade gets no answer once.
    const hungExec = h.fake.injectFault({
      resource: "pods",
      subresource: "exec",
      action: { kind: "hang" },
      times: 1,
    });
    const step = await within(
      10_000,
      "startStep",
      h.executor.startStep(build, containerStep(1, ["echo hi"]), {}),
    );
    const [out, code] = await within(10_000, "the step", Promise.all([readAll(step.stdout), step.wait()]));
    expect({ out, code }).toEqual({ out: "hi\n", code: 0 });
    expect([hungReads.hits, hungExec.hits]).toEqual([2, 1]);
    await step.destroy();
    await h.executor.destroyBuild(build);
  });

  it("retries status polls that fail transiently (connection reset, 500, 503, 429) while a step runs", async () => {
    h = await startHarness({ apiCalls: { backoffMs: 20 } });
    const build = buildSpec(h.sourceDir);
    await h.executor.setupBuild(build);
    const step = await h.executor.startStep(build, containerStep(1, ["sleep 0.5", "echo done"]), {});
    const faults = [
      h.fake.injectFault({ ...podReads, action: { kind: "drop" }, times: 1 }),
      h.fake.injectFault({ ...podReads, action: { kind: "status", code: 503 }, times: 1 }),
      h.fake.injectFault({ ...podReads, action: { kind: "status", code: 500 }, times: 1 }),
      h.fake.injectFault({
        ...podReads,
        action: { kind: "status", code: 429, retryAfterSeconds: 0 },
        times: 1,
      }),
    ];
    const [out, code] = await within(10_000, "the step", Promise.all([readAll(step.stdout), step.wait()]));
    expect({ out, code }).toEqual({ out: "done\n", code: 0 });
    expect(faults.map((f) => f.hits)).toEqual([1, 1, 1, 1]);
    await step.destroy();
    await h.executor.destroyBuild(build);
  });

  it("reads a step's output again from where a broken connection stopped, losing and repeating nothing", async () => {
    h = await startHarness({ apiCalls: { backoffMs: 20 } });
    const build = buildSpec(h.sourceDir);
    await h.executor.setupBuild(build);
    // After setupBuild: the execs these cut are the ones reading the step's output.
    const cuts = h.fake.injectFault({
      resource: "pods",
      subresource: "exec",
      action: { kind: "reset", afterMs: 400 },
      times: 2,
    });
    const step = await h.executor.startStep(
      build,
      containerStep(1, ["for i in $(seq 1 30); do echo line $i; echo err $i >&2; sleep 0.04; done"]),
      {},
    );
    const [out, err, code] = await within(
      10_000,
      "the step",
      Promise.all([readAll(step.stdout), readAll(step.stderr), step.wait()]),
    );
    expect(code).toBe(0);
    expect(out).toBe(Array.from({ length: 30 }, (_, i) => `line ${i + 1}\n`).join(""));
    expect(err).toBe(Array.from({ length: 30 }, (_, i) => `err ${i + 1}\n`).join(""));
    expect(cuts.hits).toBe(2);
    await step.destroy();
    await h.executor.destroyBuild(build);
  });

  it("opens the workspace copy's exec again when its connection is dropped before it opened", async () => {
    h = await startHarness({ apiCalls: { backoffMs: 20 } });
    h.fake.injectFault({ resource: "pods", subresource: "exec", action: { kind: "drop" }, times: 1 });
    h.fake.injectFault({
      resource: "pods",
      subresource: "exec",
      action: { kind: "status", code: 503 },
      times: 1,
    });
    const build = buildSpec(h.sourceDir);
    await within(10_000, "setupBuild", h.executor.setupBuild(build));
    await h.executor.destroyBuild(build);
  });

  it("ping reports a hung API server after the request timeout, without retrying", async () => {
    h = await startHarness({ apiCalls: { requestTimeoutMs: 300 } });
    const hang = h.fake.injectFault({ verb: "list", resource: "pods", action: { kind: "hang" } });
    const started = Date.now();
    await expect(within(5000, "ping", h.executor.ping())).rejects.toThrow(/not reachable: .*within 300 ms/);
    expect(Date.now() - started).toBeLessThan(2000);
    expect(hang.hits).toBe(1);
  });

  it("does not repeat a create that failed (it may have happened): the error is the step's", async () => {
    h = await startHarness({ apiCalls: { backoffMs: 20 } });
    const build = buildSpec(h.sourceDir);
    await h.executor.setupBuild(build);
    h.fake.injectFault({ verb: "create", resource: "pods", action: { kind: "status", code: 503 }, times: 1 });
    await expect(h.executor.startStep(build, containerStep(1, ["true"]), {})).rejects.toMatchObject({
      code: 503,
    });
    const creates = h.fake.calls.filter((c) => c.verb === "create" && c.resource === "pods");
    expect(creates.map((c) => c.code)).toEqual([201, 503]); // the workspace pod, then the step's
    await h.executor.destroyBuild(build);
  });
});
