import { describe, expect, it } from "vitest";
import { type StandbyKind, StandbyPool } from "../src/backend/standby-pool.js";
import { waitFor } from "../testing/index.js";

// The pool's own rules, on a kind whose standbys are plain records (the local and Docker
// backends' tests run it on real processes and containers).

interface Standby {
  n: number;
  key: string;
  alive: boolean;
}

class RecordedKind implements StandbyKind<Standby> {
  launched: Standby[] = [];
  discarded: Standby[] = [];
  failNext = false;
  failDiscard = false;
  /** Holds launches until released, to switch keys while one is under way. */
  gate: Promise<void> | undefined;

  async launch(key: string): Promise<Standby> {
    await this.gate;
    if (this.failNext) {
      this.failNext = false;
      throw new Error("engine said no");
    }
    const s = { n: this.launched.length + 1, key, alive: true };
    this.launched.push(s);
    return s;
  }
  alive(s: Standby): boolean {
    return s.alive;
  }
  async discard(s: Standby): Promise<void> {
    this.discarded.push(s);
    if (this.failDiscard) throw new Error("engine busy");
  }
}

/** A pool of `count` on a recorded kind, the warnings it logs kept. */
function recordedPool(count: number) {
  const kind = new RecordedKind();
  const warnings: string[] = [];
  const log = { warn: (_o: unknown, msg: string) => warnings.push(msg) } as never;
  return { kind, warnings, pool: new StandbyPool(kind, { count, noun: "standby worker", log }) };
}

const ready = (pool: StandbyPool<Standby>, key: string) =>
  waitFor("a standby ready", async () => pool.take(key));

describe("StandbyPool", () => {
  it("keeps its count for the key, and launches another after each take", async () => {
    const { kind, pool } = recordedPool(2);
    pool.prime("a");
    await waitFor("two launched", async () => kind.launched.length === 2);
    const first = await ready(pool, "a");
    expect(first).toMatchObject({ n: 1, key: "a" });
    await waitFor("a third launched", async () => kind.launched.length === 3);
    expect(pool.take("a")).toMatchObject({ n: 2 });
    await pool.close();
    // Every standby no take got, none of those taken.
    expect(kind.discarded.map((s) => s.n).sort()).toEqual(kind.launched.slice(2).map((s) => s.n));
  });

  it("a take for another key discards the old key's standbys, also one launched during the switch", async () => {
    const { kind, pool } = recordedPool(1);
    let release = () => {};
    kind.gate = new Promise((r) => (release = r));
    pool.prime("a");
    expect(pool.take("b")).toBeUndefined();
    release();
    const b = await ready(pool, "b");
    expect(b.key).toBe("b");
    expect(kind.discarded.map((s) => s.key)).toEqual(["a"]);
    await pool.close();
  });

  it("never hands over a standby that died, and discards it", async () => {
    const { kind, pool } = recordedPool(1);
    pool.prime("a");
    await waitFor("one launched", async () => kind.launched.length === 1);
    const dead = kind.launched[0] as Standby;
    dead.alive = false;
    expect(pool.take("a")).toBeUndefined();
    expect(kind.discarded).toEqual([dead]);
    const next = await ready(pool, "a");
    expect(next.n).toBe(2);
    // One that its kind saw end while waiting is dropped without a take.
    await waitFor("a third launched", async () => kind.launched.length === 3);
    pool.drop(kind.launched[2] as Standby);
    await waitFor("it was discarded", async () => kind.discarded.length === 2);
    await pool.close();
  });

  it("after a failed launch, says so and waits for the next take before trying again", async () => {
    const { kind, pool, warnings } = recordedPool(1);
    kind.failNext = true;
    pool.prime("a");
    await waitFor("the warning", async () => warnings.length === 1);
    expect(warnings).toEqual(["could not start a standby worker"]);
    await new Promise((r) => setTimeout(r, 50));
    expect(kind.launched).toHaveLength(0);
    expect(pool.take("a")).toBeUndefined();
    expect((await ready(pool, "a")).n).toBe(1);
    await pool.close();
  });

  it("close discards every waiting standby and launches no more", async () => {
    const { kind, pool } = recordedPool(3);
    pool.prime("a");
    await waitFor("three launched", async () => kind.launched.length === 3);
    await pool.close();
    expect(kind.discarded).toHaveLength(3);
    expect(pool.take("a")).toBeUndefined();
    await new Promise((r) => setTimeout(r, 20));
    expect(kind.launched).toHaveLength(3);
  });

  it("close during a launch discards what that launch made", async () => {
    const { kind, pool } = recordedPool(1);
    let release = () => {};
    kind.gate = new Promise((r) => (release = r));
    pool.prime("a");
    const closed = pool.close();
    release();
    await closed;
    expect(kind.launched).toHaveLength(1);
    expect(kind.discarded).toEqual(kind.launched);
  });

  it("a drop of a standby a build took leaves it to the build", async () => {
    const { kind, pool } = recordedPool(1);
    pool.prime("a");
    const taken = await ready(pool, "a");
    pool.drop(taken);
    await pool.close();
    expect(kind.discarded).not.toContain(taken);
  });

  it("a standby that cannot be removed is said, and close still ends", async () => {
    const { kind, pool, warnings } = recordedPool(1);
    pool.prime("a");
    await waitFor("one launched", async () => kind.launched.length === 1);
    kind.failDiscard = true;
    pool.drop(kind.launched[0] as Standby);
    await waitFor("the warning", async () => warnings.length === 1);
    await pool.close();
    expect(warnings[0]).toBe("could not remove a standby worker");
  });
});
