import { readSettings } from "@wharf/config/settings";
import { type BuildId, BuildIdError, formatBuildId, parseBuildId } from "@wharf/proto/build-id";
import {
  DEFAULT_PROVISIONER_URL,
  PROVISIONER_CLIENT_SETTINGS,
} from "@wharf/provisioner-service/client-settings";
import { type Command, InvalidArgumentError } from "commander";

/** `wharf cancel` exit codes (also in its help). */
export const CANCEL_EXIT = {
  /** Every live worker of the build was told to stop. */
  cancelled: 0,
  /** The provisioner could not be reached or refused (auth, server error). */
  failed: 1,
  /** The command line is wrong, or the build ref matches workers of several instances without --instance. */
  usage: 2,
  /** Nothing to cancel: no worker for the build, or its build already finished. */
  nothingToCancel: 3,
} as const;

/** A worker's statuses once its build ended (the provisioner's TERMINAL_STATUSES). */
const FINISHED = new Set(["Success", "Failed", "Cancelled"]);

interface WorkerRow {
  workerId: string;
  status: string;
  /** The build id, by the provisioner's JSON name. */
  buildRef: BuildId;
  instance: string;
}

interface CancelFlags {
  provisioner?: string;
  instance?: string;
}

class ProvisionerError extends Error {}

function buildIdArgument(value: string): BuildId {
  try {
    return parseBuildId(value, "<buildRef>");
  } catch (err) {
    if (!(err instanceof BuildIdError)) throw err;
    throw new InvalidArgumentError(err.message);
  }
}

/**
 * `wharf cancel <buildRef>`: finds the build's worker at the provisioner
 * (`GET /api/worker?buildRef=`) and deletes it (`DELETE /api/worker/{id}`), which stops its
 * steps; the aggregator still relays the last lines and the CANCELLED status. The provisioner
 * is `--provisioner`, else PROVISIONER_CLIENT_SETTINGS' URL and token, as for
 * `wharf provisioner list|delete`.
 */
export function register(program: Command): void {
  program
    .command("cancel")
    .description("cancel a running or queued build by stopping its worker at the provisioner")
    .addHelpText(
      "after",
      [
        "",
        "Exit codes:",
        "  0  cancelled: every live worker of the build was told to stop",
        "  1  the provisioner could not be reached or refused (token, server error)",
        "  2  usage: a bad build ref, or workers of several instances without --instance",
        "  3  nothing to cancel: no worker for the build, or the build already finished",
      ].join("\n"),
    )
    .argument("<buildRef>", "the build (wharf-api build id)", buildIdArgument)
    .option(
      "--provisioner <url>",
      `provisioner URL (default $${PROVISIONER_CLIENT_SETTINGS.url.env} or ${DEFAULT_PROVISIONER_URL}; token $${PROVISIONER_CLIENT_SETTINGS.token.env})`,
    )
    .option("--instance <id>", "only the workers of this wharf-api instance")
    .action(async (buildId: BuildId, flags: CancelFlags) => {
      process.exitCode = await cancelBuild(buildId, flags, process.env);
    });
}

export async function cancelBuild(
  buildId: BuildId,
  flags: CancelFlags,
  env: NodeJS.ProcessEnv,
): Promise<number> {
  const client = readSettings(PROVISIONER_CLIENT_SETTINGS, env);
  const base = (flags.provisioner || client.url).replace(/\/+$/, "");
  const token = client.token;
  const err = (text: string) => process.stderr.write(`wharf cancel: ${text}\n`);
  try {
    const q = new URLSearchParams({ buildRef: formatBuildId(buildId) });
    if (flags.instance !== undefined) q.set("instance", flags.instance);
    const res = await call(base, token, "GET", `/api/worker?${q}`);
    const workers = ((await res.json()) as WorkerRow[]).filter((w) => w.buildRef === buildId);
    const live = workers.filter((w) => !FINISHED.has(w.status));
    if (live.length === 0) {
      const finished = workers.at(-1);
      err(
        finished
          ? `build ${buildId} already finished (${finished.status}); nothing to cancel`
          : `no worker for build ${buildId}; nothing to cancel`,
      );
      return CANCEL_EXIT.nothingToCancel;
    }
    const instances = [...new Set(live.map((w) => w.instance))];
    if (instances.length > 1) {
      err(
        `build ${buildId} has workers of several instances (${instances.map((i) => i || '""').join(", ")}); ` +
          "choose one with --instance",
      );
      return CANCEL_EXIT.usage;
    }
    for (const w of live) {
      // 404: the worker went away between the list and the delete, which is what we wanted.
      await call(base, token, "DELETE", `/api/worker/${encodeURIComponent(w.workerId)}`, [404]);
      process.stdout.write(`cancelled build ${buildId}: stopped worker ${w.workerId} (was ${w.status})\n`);
    }
    return CANCEL_EXIT.cancelled;
  } catch (e) {
    if (!(e instanceof ProvisionerError)) throw e;
    err(e.message);
    return CANCEL_EXIT.failed;
  }
}

async function call(
  base: string,
  token: string | undefined,
  method: string,
  pathAndQuery: string,
  alsoOk: number[] = [],
): Promise<Response> {
  let res: Response;
  try {
    res = await fetch(`${base}${pathAndQuery}`, {
      method,
      headers: token ? { authorization: `Bearer ${token}` } : {},
      signal: AbortSignal.timeout(30_000),
    });
  } catch (e) {
    throw new ProvisionerError(`cannot reach the provisioner at ${base}: ${(e as Error).message}`);
  }
  if (res.ok || alsoOk.includes(res.status)) return res;
  const text = await res.text().catch(() => "");
  let detail = text || res.statusText;
  try {
    detail = (JSON.parse(text) as { detail?: string }).detail ?? detail;
  } catch {
    // not a problem+json body
  }
  throw new ProvisionerError(`${method} ${pathAndQuery.split("?")[0]}: ${res.status} ${detail}`);
}
