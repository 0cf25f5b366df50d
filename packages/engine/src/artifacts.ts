import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { errorMessage, type StepRunContext } from "./step-context.js";

/**
 * A temporary directory artifacts pass through between the executor's workspace and the
 * recorder (which copies them in). Created on first use, removed when the build ends.
 */
export class ArtifactScratch {
  private dir: Promise<string> | null = null;

  constructor(private readonly parentDir: string = tmpdir()) {}

  /** An empty directory for one step's files. */
  async dirFor(stepId: number): Promise<string> {
    this.dir ??= mkdir(this.parentDir, { recursive: true }).then(() =>
      mkdtemp(join(this.parentDir, "wharf-artifacts-")),
    );
    const stepDir = join(await this.dir, `step-${stepId}`);
    await mkdir(stepDir, { recursive: true });
    return stepDir;
  }

  async remove(): Promise<void> {
    if (this.dir === null) return;
    const dir = await this.dir.catch(() => null);
    if (dir !== null) await rm(dir, { recursive: true, force: true });
  }
}

/**
 * Collects the step's artifact globs (one `collectFiles` call per glob, so a glob that
 * matches nothing can be named in a warning) and hands each file to the recorder.
 * Returns false, after logging why, when collecting failed: the step then fails.
 */
export async function collectArtifacts(ctx: StepRunContext): Promise<boolean> {
  const { step } = ctx.tracker;
  const seen = new Set<string>();
  try {
    const dir = await ctx.artifacts.dirFor(step.id);
    for (const glob of step.artifacts) {
      const files = await ctx.executor.collectFiles(ctx.build, [glob], dir);
      if (files.length === 0) ctx.tracker.log(`warning: artifact glob "${glob}" matched no files`);
      for (const relPath of files) {
        if (seen.has(relPath)) continue;
        seen.add(relPath);
        await ctx.recorder.addArtifact(step.id, relPath, join(dir, relPath));
        ctx.tracker.log(`artifact: ${relPath}`);
      }
    }
    return true;
  } catch (err) {
    ctx.log.warn({ err, stepId: step.id }, "collecting artifacts failed");
    ctx.tracker.log(`collecting artifacts failed: ${errorMessage(err)}`);
    return false;
  }
}
