import { setTimeout as sleep } from "node:timers/promises";
import { NO_EXIT_CODE, StepStatusCode, type WireBuildSummary, type WireStatusEvent } from "@wharf/proto";
import { timestampToDate } from "@wharf/worker-rpc";
import type { BuildRecord, BuildRecordStore, StatusWord, StepRecord } from "./build-record-store.js";
import { deliver, followWorkerStream, type RelayContext } from "./relay-context.js";

const wordByNumber = new Map<number, StatusWord>(
  (Object.entries(StepStatusCode) as [string, number][])
    .filter(([name]) => name !== "UNSPECIFIED")
    .map(([name, n]) => [n, name as StatusWord]),
);
const statusWord = (n: number): StatusWord => wordByNumber.get(n) ?? "PENDING";
const ENDED: readonly StatusWord[] = ["SUCCESS", "FAILED", "CANCELLED"];
// A step's clock starts when it is being set up (INITIALIZING: pulling an image, creating a
// pod) or, for executors that skip that, when it runs; queueing (SCHEDULING) is not its time.
const STARTED: readonly StatusWord[] = ["INITIALIZING", "RUNNING"];

/** How long a finished build's relay waits for its step table's last save before releasing. */
const SETTLE_MS = 10_000;

/**
 * Starts keeping the build's step table in `store` (none: nothing is kept). `settled` resolves
 * once its last save landed, or after SETTLE_MS: the page's step table outlives the worker only
 * if that save lands before the release, but a slow database must not hold a finished build.
 */
export function keepStepTable(
  ctx: RelayContext,
  store: BuildRecordStore | undefined,
): { settled(): Promise<void> } {
  const done = store ? new StepTableRelay(ctx, store).run() : Promise.resolve();
  return {
    settled: () => Promise.race([done, sleep(SETTLE_MS, undefined, { signal: ctx.signal })]).catch(() => {}),
  };
}

/** A step's (or the build's, step 0) status and when it started and ended, from its status events. */
interface Times {
  status: StatusWord;
  startedAt: number | null;
  finishedAt: number | null;
}

/**
 * Keeps the build's step table in the aggregator's database while the build is relayed
 * (BuildRecordStore): names, attempts and exit codes from the worker's summary, status, start
 * and end from its status events (the summary can be ahead of the events handled so far: a
 * status from it would show a running step without its start). It reads the worker's status events from the first one on
 * its own stream (no checkpoint: the events are few and the table is rewritten whole), asks
 * for the summary when a step first shows up or ends (exit code and attempts), and saves.
 *
 * Nothing of wharf-api's delivery waits on it and its failures only cost the page its step
 * table, so `run` never rejects: it logs and gives up instead.
 */
export class StepTableRelay {
  private times = new Map<number, Times>();
  private summary: WireBuildSummary | undefined;
  private facts: Pick<BuildRecord, "branch" | "projectId"> = {};

  constructor(
    private readonly ctx: RelayContext,
    private readonly store: BuildRecordStore,
  ) {}

  async run(): Promise<void> {
    const { ctx } = this;
    try {
      // Branch and project for the build list: wharf-api knows them, the worker does not say.
      // One try: the table is worth keeping without them.
      const build = await ctx.api.getBuild(ctx.buildId, ctx.signal).catch(() => undefined);
      this.facts = {
        branch: build?.gitBranch || null,
        projectId: build?.projectId ? build.projectId : null,
      };
      await followWorkerStream(
        ctx,
        "step table",
        () => {
          // A new stream replays every event from the first: start the clocks afresh.
          this.times = new Map();
          return ctx.worker.streamStatusEvents(0);
        },
        async (it) => {
          for (;;) {
            const next = await it.next();
            if (next.done) return;
            await this.handle(next.value);
          }
        },
      );
      // The stream ended: the build is finished. The last summary has the final message.
      await this.refresh();
    } catch (err) {
      if (!ctx.signal.aborted) ctx.log.warn({ err: String(err) }, "keeping the build's step table failed");
    }
  }

  private async handle(ev: WireStatusEvent): Promise<void> {
    const status = statusWord(ev.status);
    const at = timestampToDate(ev.timestamp).getTime();
    const t = this.times.get(ev.stepId) ?? { status, startedAt: null, finishedAt: null };
    t.status = status;
    if (t.startedAt === null && (STARTED.includes(status) || (ev.stepId === 0 && status !== "PENDING")))
      t.startedAt = at;
    // A retried step runs again after FAILED: only its last end counts.
    t.finishedAt = ENDED.includes(status) ? at : null;
    this.times.set(ev.stepId, t);
    const known = ev.stepId === 0 || this.summary?.steps.some((s) => s.stepId === ev.stepId);
    if (!known || ENDED.includes(status) || !this.summary) await this.refresh();
    else await this.save(this.summary);
  }

  private async refresh(): Promise<void> {
    const { ctx } = this;
    this.summary = await deliver(ctx, "build summary", () => ctx.worker.summary());
    await this.save(this.summary);
  }

  /** Saves the table: the summary's facts with the statuses and times of the events handled. */
  private async save(summary: WireBuildSummary) {
    const { ctx } = this;
    const build = this.times.get(0);
    const record: BuildRecord = {
      buildId: ctx.buildId,
      workerId: ctx.workerId,
      status: build?.status ?? statusWord(summary.status),
      finished: summary.finished,
      message: summary.message,
      startedAt: build?.startedAt ?? null,
      finishedAt: summary.finished ? (build?.finishedAt ?? null) : null,
      ...this.facts,
    };
    const steps = summary.steps.map((s): StepRecord => {
      const seen = this.times.get(s.stepId);
      return {
        stepId: s.stepId,
        stage: s.stage,
        name: s.name,
        // Before its first event is handled a step is PENDING, whatever the newer summary says.
        status: seen?.status ?? "PENDING",
        attempts: s.attempts,
        exitCode: s.exitCode === NO_EXIT_CODE ? null : s.exitCode,
        startedAt: seen?.startedAt ?? null,
        finishedAt: seen?.finishedAt ?? null,
      };
    });
    await deliver(ctx, "step table", () => this.store.save(record, steps));
  }
}
