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

type Flags = import("@wharf/executor-docker/janitor").JanitorFlags & { json?: boolean; cri?: boolean };

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
        "--cri cleans the CRI runtime of WHARF_CRI_ENDPOINT instead: the sandboxes and containers of",
        "wharf workers of this host and PID namespace that are gone (their pid ended or is another",
        "process's), and their build directories under WHARF_CRI_WORK_ROOT. Run it on the runtime's",
        "host, where the workers run (not in a container with a PID namespace of its own: it would",
        "find nothing to judge).",
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
    .option("--cri", "clean the CRI runtime (WHARF_CRI_ENDPOINT) instead of the Docker engine")
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
  if (flags.cri) return criJanitor(flags, env);
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

/** `wharf janitor --cri`: what dead workers of this host left in the CRI runtime. */
async function criJanitor(flags: Flags, env: NodeJS.ProcessEnv): Promise<number> {
  const engineOnly = (["images", "buildCacheBudget", "minAge", "label"] as const).filter((k) => flags[k]);
  if (engineOnly.length) {
    writeErr(
      `wharf janitor: --cri does not take --${engineOnly.map(kebab).join(", --")} (Docker engine options)`,
    );
    return JANITOR_EXIT.usage;
  }
  const [{ CriExecutor }, { compileCriSettings }, { ConfigError, createLogger }] = await Promise.all([
    import("@wharf/executor-cri"),
    import("@wharf/executor-cri/settings"),
    import("@wharf/config"),
  ]);
  let settings: import("@wharf/executor-cri/settings").CriSettings;
  try {
    settings = compileCriSettings(env);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    writeErr(`wharf janitor: ${err.message}`);
    return JANITOR_EXIT.usage;
  }
  const executor = new CriExecutor({
    endpoint: settings.endpoint,
    workRoot: settings.workRoot,
    // The report is the output; the executor's own lines only when asked for.
    logger: createLogger("janitor", undefined, { defaultLevel: "warn", env }),
  });
  try {
    await executor.ping();
    const dryRun = flags.dryRun ?? false;
    const owners = await executor.sweepOrphans({ dryRun });
    const count = (k: "sandboxes" | "containers") => owners.reduce((n, o) => n + o[k].length, 0);
    if (flags.json) writeOut(JSON.stringify({ dryRun, owners }));
    else {
      const verb = dryRun ? "would remove" : "removed";
      for (const o of owners)
        writeOut(
          `${verb} ${o.sandboxes.length} sandbox(es), ${o.containers.length} container(s) of dead worker ${o.owner} (builds ${o.buildRefs.join(", ") || "none"})`,
        );
      writeOut(
        `${verb} ${count("sandboxes")} sandbox(es) and ${count("containers")} container(s) of ${owners.length} dead worker(s)`,
      );
    }
    return JANITOR_EXIT.done;
  } catch (err) {
    writeErr(`wharf janitor: ${(err as Error).message}`);
    return JANITOR_EXIT.failed;
  } finally {
    executor.close();
  }
}

const kebab = (s: string) => s.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
