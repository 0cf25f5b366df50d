import { ConfigError, type Env, parseDurationMs } from "@wharf/config/env";
import { readSettings, setting } from "@wharf/config/settings";

/** What `wharf janitor` is asked for on its command line; each falls back to its WHARF_JANITOR_* setting. */
export interface JanitorFlags {
  dryRun?: boolean;
  images?: boolean;
  buildCacheBudget?: string;
  minAge?: string;
  label?: string[];
}

export interface JanitorOptions {
  /** List what would be removed; remove nothing (the lock is still taken, so the list is stable). */
  dryRun: boolean;
  /**
   * A dead worker's objects go once it has been gone this long: from when its container
   * ended (the provisioner, aggregator and watchdog read the exit from it), else from each
   * object's creation (a worker container between create and start is not running yet; a
   * worker that is a process of the local backend is seen only through its running steps).
   * WHARF_JANITOR_MIN_AGE, default 1h.
   */
  minAgeMs: number;
  /** Also remove dangling images not labelled `keep` (WHARF_JANITOR_IMAGES, default off). */
  images: boolean;
  /** Trim the engine's build cache down to this many bytes (WHARF_JANITOR_BUILD_CACHE_BUDGET, e.g. 10GB; default: leave it). */
  buildCacheBudget?: number;
  /**
   * Only objects carrying every one of these labels too (--label, WHARF_JANITOR_LABELS
   * "k=v,k2=v2"; default none); liveness still sees every container.
   */
  labels: Record<string, string>;
  /** A lock older than this was left by a janitor that died (WHARF_JANITOR_LOCK_STALE, default 30m). */
  lockStaleMs: number;
  /** The lock container's name (tests use their own; default wharf-janitor-lock). */
  lockName?: string;
}

export const JANITOR_DEFAULTS = { minAgeMs: 3_600_000, lockStaleMs: 1_800_000 } as const;

/** `wharf janitor`'s settings, and the provisioner's scheduled janitor's (WHARF_JANITOR_INTERVAL). */
export const JANITOR_SETTINGS = {
  minAge: setting.duration("WHARF_JANITOR_MIN_AGE", {
    default: JANITOR_DEFAULTS.minAgeMs,
    doc: "a dead worker's objects go once it has been gone this long (`--min-age`)",
  }),
  images: setting.bool("WHARF_JANITOR_IMAGES", {
    default: false,
    doc: "also remove dangling images not labelled `keep` (`--images`)",
  }),
  buildCacheBudget: setting.parsed(
    "WHARF_JANITOR_BUILD_CACHE_BUDGET",
    "size",
    (text, name) => {
      try {
        return parseBytes(text);
      } catch (err) {
        throw new ConfigError(`${name}: ${(err as Error).message}`, { cause: err });
      }
    },
    {
      defaultDoc: "unset: leave it",
      doc: "trim the engine's build cache down to this size, e.g. 10GB (`--build-cache-budget`)",
    },
  ),
  labels: setting.list("WHARF_JANITOR_LABELS", {
    doc: "k=v,k2=v2: only objects carrying every one of these labels too (`--label`); liveness still sees every container",
  }),
  lockStale: setting.duration("WHARF_JANITOR_LOCK_STALE", {
    default: JANITOR_DEFAULTS.lockStaleMs,
    doc: "a lock older than this was left by a janitor that died",
  }),
};

/** The one place the janitor's settings are read: flags first, then WHARF_JANITOR_*, then the defaults. */
export function compileJanitorOptions(flags: JanitorFlags, env: Env): JanitorOptions {
  const s = readSettings(JANITOR_SETTINGS, env);
  const budget =
    flags.buildCacheBudget === undefined ? s.buildCacheBudget : parseBytes(flags.buildCacheBudget);
  const labels: Record<string, string> = {};
  for (const l of flags.label ?? s.labels ?? []) {
    const eq = l.indexOf("=");
    if (eq <= 0) throw new ConfigError(`a janitor label is key=value, got "${l}"`);
    labels[l.slice(0, eq)] = l.slice(eq + 1);
  }
  return {
    dryRun: flags.dryRun ?? false,
    minAgeMs: flags.minAge === undefined ? s.minAge : parseDurationMs(flags.minAge),
    images: flags.images ?? s.images,
    ...(budget === undefined ? {} : { buildCacheBudget: budget }),
    labels,
    lockStaleMs: s.lockStale,
  };
}

const units: Record<string, number> = { "": 1, B: 1, KB: 1e3, MB: 1e6, GB: 1e9, TB: 1e12 };

/** "10GB", "500MB", "0" → bytes (decimal units, as `docker system df` prints them). */
export function parseBytes(text: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([KMGT]?B?)$/i.exec(text.trim());
  const unit = m ? units[(m[2] ?? "").toUpperCase().replace(/^([KMGT])$/, "$1B")] : undefined;
  if (!m || unit === undefined) throw new ConfigError(`invalid size "${text}" (use e.g. 500MB, 10GB)`);
  return Math.round(Number(m[1]) * unit);
}
