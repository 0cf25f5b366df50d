import type { Command } from "commander";
import { writeErr, writeOut } from "../invocation.js";

/** `wharf janitor` exit codes (also in its help). */
export const JANITOR_EXIT = {
  done: 0,
  /** The engine could not be reached, or refused a removal for another reason than "in use". */
  failed: 1,
  usage: 2,
  /** Another janitor holds this engine's lock; nothing was done. */
  busy: 3,
} as const;

type Flags = import("@wharf/executor-docker/janitor").JanitorFlags & { json?: boolean };

/**
 * `wharf janitor`: cleans what crashed workers left on the Docker or Podman engine of
 * $DOCKER_HOST. dockerode and the janitor are imported when it runs, so `wharf --help` does
 * not load them.
 */
export function register(program: Command): void {
  program
    .command("janitor")
    .description("remove what crashed workers left on the Docker/Podman engine ($DOCKER_HOST)")
    .addHelpText(
      "after",
      [
        "",
        "Removes stopped containers, volumes and networks carrying wharf's labels whose worker is",
        "no longer running; never what a running worker or step container still uses, nor anything",
        "without wharf's labels. One janitor at a time per engine: the lock is a container the",
        "engine holds (wharf-janitor-lock); a second janitor exits 3 at once.",
        "",
        "Settings (flags win): WHARF_JANITOR_MIN_AGE (1h), WHARF_JANITOR_IMAGES (off),",
        "WHARF_JANITOR_BUILD_CACHE_BUDGET (none), WHARF_JANITOR_LABELS (none, k=v,k2=v2),",
        "WHARF_JANITOR_LOCK_STALE (30m). The provisioner runs it every WHARF_JANITOR_INTERVAL (off).",
        "",
        "Exit codes:",
        "  0  done (or, with --dry-run, listed)",
        "  1  the engine could not be reached or refused",
        "  2  usage",
        "  3  the engine is being cleaned by another janitor",
      ].join("\n"),
    )
    .option("--dry-run", "list what would be removed; remove nothing")
    .option("--json", "print the report as JSON")
    .option("--images", "also remove dangling images not labelled `keep`")
    .option("--build-cache-budget <size>", "trim the build cache down to this size (e.g. 10GB)")
    .option(
      "--min-age <duration>",
      "keep a dead worker's objects until its container ended this long ago (without one: until they are this old; 1h)",
    )
    .option(
      "--label <key=value>",
      "only objects carrying this label too (repeatable)",
      (v: string, prev: string[] = []) => [...prev, v],
    )
    .action(async (flags: Flags) => {
      process.exitCode = await janitor(flags, process.env);
    });
}

export async function janitor(flags: Flags, env: NodeJS.ProcessEnv): Promise<number> {
  const [jan, { ConfigError }] = await Promise.all([
    import("@wharf/executor-docker/janitor"),
    import("@wharf/config"),
  ]);
  let opts: import("@wharf/executor-docker/janitor").JanitorOptions;
  try {
    opts = jan.compileJanitorOptions(flags, env);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    writeErr(`wharf janitor: ${err.message}`);
    return JANITOR_EXIT.usage;
  }
  try {
    const report = await jan.runJanitor(jan.defaultEngine(), opts);
    if (flags.json) writeOut(JSON.stringify(report));
    else {
      for (const o of report.removed)
        writeOut(`${report.dryRun ? "would remove" : "removed"} ${o.kind} ${o.id.slice(0, 64)}`);
      for (const o of report.skipped) writeOut(`skipped ${o.kind} ${o.id.slice(0, 64)} (${o.reason})`);
      writeOut(jan.summaryLine(report));
    }
    return JANITOR_EXIT.done;
  } catch (err) {
    if (err instanceof jan.JanitorBusyError) {
      writeErr(`wharf janitor: ${err.message}`);
      return JANITOR_EXIT.busy;
    }
    writeErr(`wharf janitor: ${(err as Error).message}`);
    return JANITOR_EXIT.failed;
  }
}
