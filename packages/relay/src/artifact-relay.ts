import type { WireArtifactEvent } from "@wharf/proto";
import { deliver, followWorkerStream, type RelayContext } from "./relay-context.js";

/**
 * Worker artifact events → POST /api/build/{id}/artifact. Each file is piped
 * from the worker's DownloadArtifact stream straight into the multipart upload,
 * chunk by chunk; a failed upload starts a fresh download.
 */
export class ArtifactRelay {
  /**
   * An upload whose answer we never saw may have been stored. Worker artifact
   * ids are dense from 1 and delivered in order, so wharf-api holding more
   * artifacts than `lastArtifactId` means the in-doubt one arrived.
   */
  private inDoubt = true;

  constructor(private readonly ctx: RelayContext) {}

  async run(): Promise<void> {
    const { ctx } = this;
    await followWorkerStream(
      ctx,
      "artifacts",
      () => ctx.worker.streamArtifactEvents(ctx.checkpoint.lastArtifactId),
      async (it) => {
        for (;;) {
          const next = await it.next();
          if (next.done) return;
          ctx.workerOk();
          if (next.value.artifactId > ctx.checkpoint.lastArtifactId) await this.relay(next.value);
        }
      },
    );
  }

  private async relay(ev: WireArtifactEvent): Promise<void> {
    const { ctx } = this;
    let uploaded = false;
    await deliver(ctx, `artifact ${ev.name}`, async () => {
      if (!uploaded && this.inDoubt) {
        const held = await ctx.api.countBuildArtifacts(ctx.buildId, ctx.signal);
        this.inDoubt = false;
        if (held === undefined) {
          // Cannot tell whether a cut upload landed: upload (at worst the artifact is there twice).
          ctx.log.warn(
            { artifact: ev.name },
            "wharf-api cannot count a build's artifacts; uploading it again",
          );
        } else if (held > ctx.checkpoint.lastArtifactId) uploaded = true;
      }
      if (!uploaded) {
        let bytes = 0;
        const source = ctx.worker.downloadArtifact(ev.artifactId, ctx.signal);
        async function* counted() {
          for await (const chunk of source) {
            bytes += chunk.byteLength;
            yield chunk;
          }
        }
        try {
          await ctx.api.uploadArtifact(ctx.buildId, ev.name, counted(), ctx.signal, ctx.fence);
        } catch (err) {
          this.inDoubt = true;
          throw err;
        }
        uploaded = true;
        ctx.metrics.count("artifacts_delivered");
        ctx.metrics.count("artifact_bytes_delivered", bytes);
      }
      await ctx.checkpoints.save(ctx.workerId, { lastArtifactId: ev.artifactId });
      ctx.checkpoint.lastArtifactId = ev.artifactId;
    });
  }
}
