import type { CacheScope } from "@wharf/executor";
import { errorMessage, type StepRunContext } from "./step-context.js";

/**
 * A step's `cache:` around its attempts: restored once before the first, saved once after
 * the step succeeded. A cache is a speed-up, never a reason to fail: whatever goes wrong is
 * said in the step's log (and the worker's) and the step runs, or stays succeeded, without it.
 */

/** Why this step's cache is not kept, or null when it is (the executor has caches and the build a scope). */
function unavailable(ctx: StepRunContext): string | null {
  if (!ctx.tracker.step.cache?.length) return "";
  if (!ctx.executor.caches) return `the ${ctx.executor.kind} executor keeps no caches`;
  if (!ctx.build.cache) return "the build has no project and branch (WHARF_PROJECT_ID, GIT_BRANCH)";
  return null;
}

function scoped(ctx: StepRunContext): (typeof ctx.build & { cache: CacheScope }) | null {
  return ctx.build.cache ? (ctx.build as typeof ctx.build & { cache: CacheScope }) : null;
}

export async function restoreStepCache(ctx: StepRunContext): Promise<void> {
  const why = unavailable(ctx);
  const paths = ctx.tracker.step.cache?.join(", ");
  if (why) ctx.tracker.log(`cache: ${paths} not restored: ${why}`);
  const build = scoped(ctx);
  if (why !== null || !build || !ctx.executor.caches) return;
  try {
    const restored = await ctx.executor.caches.restore(build, ctx.tracker.step);
    ctx.tracker.log(
      restored.hit
        ? `cache: restored ${paths} (branch ${restored.branch}, ${formatBytes(restored.bytes)})`
        : `cache: no cache of ${paths} yet for branch ${build.cache.branch}${build.cache.fallbackBranch ? ` nor ${build.cache.fallbackBranch}` : ""}`,
    );
  } catch (err) {
    ctx.log.warn({ err, stepId: ctx.tracker.step.id }, "restoring the step's cache failed");
    ctx.tracker.log(`cache: ${paths} not restored: ${errorMessage(err)}`);
  }
}

export async function saveStepCache(ctx: StepRunContext): Promise<void> {
  const build = scoped(ctx);
  const paths = ctx.tracker.step.cache?.join(", ");
  if (unavailable(ctx) !== null || !build || !ctx.executor.caches) return;
  try {
    const saved = await ctx.executor.caches.save(build, ctx.tracker.step);
    const evicted =
      saved.evicted > 0 ? `; ${saved.evicted} older cache(s) removed to stay within the budget` : "";
    ctx.tracker.log(
      `cache: saved ${paths} for branch ${build.cache.branch} (${formatBytes(saved.bytes)})${evicted}`,
    );
  } catch (err) {
    ctx.log.warn({ err, stepId: ctx.tracker.step.id }, "saving the step's cache failed");
    ctx.tracker.log(`cache: ${paths} not saved: ${errorMessage(err)}`);
  }
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ["KiB", "MiB", "GiB", "TiB"];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(1)} ${units[i]}`;
}
