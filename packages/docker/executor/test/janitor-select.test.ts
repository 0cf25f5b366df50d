import { CREATED_BY_EXECUTOR, WHARF_LABELS, WORKER_COMPONENT } from "@wharf/proto/labels";
import { describe, expect, it } from "vitest";
import { compileJanitorOptions, parseBytes } from "../src/janitor-options.js";
import { type Inventory, selectLeftovers } from "../src/janitor-select.js";

const HOUR = 3_600_000;
const now = 10 * HOUR;
const worker = (id: string) => ({ [WHARF_LABELS.workerId]: id, [WHARF_LABELS.component]: WORKER_COMPONENT });
const executor = (id: string) => ({
  [WHARF_LABELS.workerId]: id,
  [WHARF_LABELS.createdBy]: CREATED_BY_EXECUTOR,
});
const container = (id: string, state: string, labels: Record<string, string>, ageMs = 0) => ({
  id,
  state,
  labels,
  createdMs: now - ageMs,
  bytes: 1,
});
const volume = (name: string, labels: Record<string, string>, ageMs = 0) => ({
  name,
  labels,
  createdMs: now - ageMs,
  bytes: 5,
});
const ids = (inv: Inventory, minAgeMs = HOUR, labels: Record<string, string> = {}) =>
  selectLeftovers(inv, { minAgeMs, labels }, now).map((o) => o.id);

describe("selectLeftovers", () => {
  it("takes everything of a worker once its container has ended for the minimum age", () => {
    const inv = (endedAgoMs: number): Inventory => ({
      containers: [
        { ...container("w", "exited", worker("a"), 5 * HOUR), finishedMs: now - endedAgoMs },
        container("s", "exited", executor("a"), 5 * HOUR),
      ],
      volumes: [volume("v", executor("a"), 5 * HOUR)],
      networks: [{ name: "n", labels: executor("a"), createdMs: now - 5 * HOUR }],
    });
    // Ended a minute ago: the provisioner and the aggregator may not have seen the exit yet.
    expect(ids(inv(60_000))).toEqual([]);
    expect(ids(inv(2 * HOUR))).toEqual(["w", "s", "v", "n"]);
    expect(ids(inv(60_000), 0)).toEqual(["w", "s", "v", "n"]);
  });

  it("keeps everything of a worker with a running container, its own or a step's", () => {
    for (const running of [
      container("w", "running", worker("a")),
      container("s", "running", executor("a")),
    ]) {
      const inv: Inventory = {
        containers: [running, container("old", "exited", executor("a"), 5 * HOUR)],
        volumes: [volume("v", executor("a"), 5 * HOUR)],
        networks: [],
      };
      expect(ids(inv)).toEqual([]);
    }
  });

  it("without an exited worker container, takes only what is older than the minimum age", () => {
    const inv: Inventory = {
      // A worker container created but not started yet: not running, not ended.
      containers: [container("w", "created", worker("b"))],
      volumes: [volume("young", executor("c")), volume("old", executor("c"), 2 * HOUR)],
      networks: [],
    };
    expect(ids(inv)).toEqual(["old"]);
  });

  it("never takes what lacks wharf's labels, or a scope label it was asked for", () => {
    const inv: Inventory = {
      containers: [
        container("w", "exited", worker("a")),
        container("x", "exited", { [WHARF_LABELS.workerId]: "a" }),
      ],
      volumes: [volume("plain", { [WHARF_LABELS.workerId]: "a" })],
      networks: [],
    };
    expect(ids(inv, 0)).toEqual(["w"]);
    expect(ids(inv, 0, { team: "x" })).toEqual([]);
  });
});

describe("janitor options", () => {
  it("reads flags, then WHARF_JANITOR_*, then the defaults", () => {
    expect(compileJanitorOptions({}, {})).toMatchObject({ dryRun: false, images: false, minAgeMs: HOUR });
    const o = compileJanitorOptions(
      { minAge: "10m", label: ["a=b"] },
      { WHARF_JANITOR_IMAGES: "1", WHARF_JANITOR_BUILD_CACHE_BUDGET: "2GB", WHARF_JANITOR_MIN_AGE: "5h" },
    );
    expect(o).toMatchObject({ images: true, buildCacheBudget: 2e9, minAgeMs: 600_000, labels: { a: "b" } });
    expect(() => compileJanitorOptions({ label: ["nokey"] }, {})).toThrow(/key=value/);
  });

  it("parses sizes", () => {
    expect([parseBytes("0"), parseBytes("500MB"), parseBytes("1.5 GB"), parseBytes("10k")]).toEqual([
      0, 5e8, 1.5e9, 1e4,
    ]);
    expect(() => parseBytes("lots")).toThrow(/invalid size/);
  });
});
