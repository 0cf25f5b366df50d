import type { WireStatusEvent } from "@wharf/proto";
import { StepStatusCode } from "@wharf/proto";
import { isFinalWharfApiStatus, type WharfApiBuildStatus } from "@wharf/proto/wharf-api";
import { timestampToDate } from "@wharf/worker-rpc";
import { advancesStatus, apiStatusOf } from "./build-status.js";
import { deliver, followWorkerStream, type RelayContext } from "./relay-context.js";

/**
 * The build's status (status events of step 0) → PUT /api/build/{id}/status,
 * once per transition and only forwards. The terminal status waits until logs
 * and artifacts are delivered, so whoever sees "Completed" at wharf-api also
 * sees the whole log.
 */
export class StatusRelay {
  /** A PUT whose answer we never saw (or a predecessor's) may have been applied: look first. */
  private inDoubt = true;

  constructor(private readonly ctx: RelayContext) {}

  async run(dataDelivered: Promise<unknown>): Promise<void> {
    const { ctx } = this;
    await followWorkerStream(
      ctx,
      "status",
      () => ctx.worker.streamStatusEvents(ctx.checkpoint.lastEventId),
      async (it) => {
        for (;;) {
          const next = await it.next();
          if (next.done) return;
          ctx.workerOk();
          await this.handle(next.value, dataDelivered);
        }
      },
    );
    if (!isFinalWharfApiStatus(ctx.checkpoint.sentStatus)) {
      // The stream ended (build finished) without a terminal step-0 event: ask the summary.
      const summary = await deliver(ctx, "build summary", () => ctx.worker.summary());
      const status = apiStatusOf(summary.status) ?? "Failed";
      await dataDelivered;
      await this.send(
        isFinalWharfApiStatus(status) ? status : "Failed",
        summary.message,
        new Date(),
        undefined,
      );
    }
  }

  private async handle(ev: WireStatusEvent, dataDelivered: Promise<unknown>): Promise<void> {
    const { ctx } = this;
    const status = ev.stepId === 0 ? apiStatusOf(ev.status) : undefined;
    if (!status || !advancesStatus(ctx.checkpoint.sentStatus, status)) {
      await this.saveEventId(ev.eventId);
      return;
    }
    let message = "";
    if (isFinalWharfApiStatus(status)) {
      await dataDelivered;
      if (ev.status === StepStatusCode.CANCELLED) message = "Build was cancelled.";
      else if (status === "Failed") {
        const summary = await deliver(ctx, "build summary", () => ctx.worker.summary()).catch(
          () => undefined,
        );
        message = summary?.message || "Build failed.";
      }
    }
    await this.send(status, message, timestampToDate(ev.timestamp), ev.eventId);
  }

  private async send(
    status: WharfApiBuildStatus,
    message: string,
    timestamp: Date,
    eventId: number | undefined,
  ) {
    const { ctx } = this;
    let sent = false;
    await deliver(ctx, `status ${status}`, async () => {
      if (!sent && this.inDoubt) {
        const current = await ctx.api.getBuild(ctx.buildId, ctx.signal);
        this.inDoubt = false;
        if (current && !advancesStatus(current.status, status)) sent = true;
      }
      if (!sent) {
        try {
          await ctx.api.setBuildStatus(ctx.buildId, { status, message, timestamp }, ctx.signal, ctx.fence);
        } catch (err) {
          this.inDoubt = true;
          throw err;
        }
        sent = true;
        ctx.metrics.count("statuses_delivered");
      }
      const update =
        eventId === undefined ? { sentStatus: status } : { sentStatus: status, lastEventId: eventId };
      await ctx.checkpoints.save(ctx.workerId, update);
      Object.assign(ctx.checkpoint, update);
    });
    ctx.log.info({ workerId: ctx.workerId, buildId: ctx.buildId, status }, "build status delivered");
  }

  private async saveEventId(eventId: number): Promise<void> {
    const { ctx } = this;
    await deliver(ctx, "status checkpoint", () =>
      ctx.checkpoints.save(ctx.workerId, { lastEventId: eventId }),
    );
    ctx.checkpoint.lastEventId = eventId;
  }
}
