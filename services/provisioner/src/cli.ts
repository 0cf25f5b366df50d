import { type BuildId, BuildIdError, formatBuildId, parseBuildId } from "@wharf/proto/build-id";
import type { ProvisionerClient, Worker } from "@wharf/provisioner";
import { type Command, InvalidArgumentError } from "commander";

const out = (text: string) => process.stdout.write(text.endsWith("\n") ? text : `${text}\n`);

function collectInput(raw: string, previous: Record<string, string> = {}): Record<string, string> {
  const eq = raw.indexOf("=");
  if (eq <= 0) throw new InvalidArgumentError(`expected key=value, got "${raw}"`);
  return { ...previous, [raw.slice(0, eq)]: raw.slice(eq + 1) };
}

function uint(raw: string): string {
  if (!/^\d{1,15}$/.test(raw)) throw new InvalidArgumentError(`expected an unsigned integer, got "${raw}"`);
  return raw;
}

/** A --build-ref flag: wharf-api's build id, refused here with parseBuildId's message. */
function buildIdFlag(raw: string): BuildId {
  try {
    return parseBuildId(raw, "--build-ref");
  } catch (err) {
    if (!(err instanceof BuildIdError)) throw err;
    throw new InvalidArgumentError(err.message);
  }
}

// The service, its client and their dependencies load when a command runs, not for `wharf --help`.
async function client(): Promise<ProvisionerClient> {
  const [{ ProvisionerClient }, { compileClientOptions }] = await Promise.all([
    import("@wharf/provisioner"),
    import("./options.js"),
  ]);
  return new ProvisionerClient(compileClientOptions(process.env));
}

/** One line per worker, aligned, for people; `--json` gives the API's objects. */
export function formatWorkers(workers: Worker[]): string {
  const rows = [
    ["WORKER ID", "BUILD", "STATUS", "ADDRESS", "CREATED"],
    ...workers.map((w) => [w.workerId, String(w.buildRef), w.status, w.address ?? "-", w.createdAt]),
  ];
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? "").length)));
  return rows
    .map((r) =>
      r
        .map((c, i) => c.padEnd(widths[i] ?? 0))
        .join("  ")
        .trimEnd(),
    )
    .join("\n");
}

/**
 * `wharf provisioner serve|create|list|delete`. `serve` runs the service; the
 * others talk to a running one at WHARF_PROVISIONER_URL (default
 * http://127.0.0.1:5009) with WHARF_PROVISIONER_TOKEN.
 */
export function registerProvisionerCommands(program: Command): void {
  const p = program.command("provisioner").description("Start one worker per build (wharf-api compatible)");

  p.command("serve")
    .description("Run the provisioner service (config from WHARF_* env, see README)")
    .option("--host <host>", "address to listen on (WHARF_PROVISIONER_HOST)")
    .option("--port <port>", "port to listen on (WHARF_PROVISIONER_PORT)", uint)
    .action(async (flags: { host?: string; port?: string }) => {
      const env = {
        ...process.env,
        ...(flags.host ? { WHARF_PROVISIONER_HOST: flags.host } : {}),
        ...(flags.port ? { WHARF_PROVISIONER_PORT: flags.port } : {}),
      };
      const [{ createLogger, GracefulShutdown }, { compileOptions }, { startProvisioner }] =
        await Promise.all([import("@wharf/config"), import("./options.js"), import("./start.js")]);
      const opts = compileOptions(env);
      const log = createLogger("provisioner");
      const shutdown = new GracefulShutdown(log, opts.shutdownGraceMs);
      const running = await startProvisioner(opts, { log });
      shutdown.add("provisioner", () => running.close());
      shutdown.handleSignals();
      out(`provisioner listening on ${running.url}`);
    });

  p.command("create")
    .description("Queue a worker for a build of a repository")
    .argument("<repo-url>", "clone URL (or a local path) of the repository")
    .option("--branch <branch>", "branch to build")
    .option("--build-ref <n>", "build id (default: seconds since 1970)", buildIdFlag)
    .option("--stage <stage>", "run only this stage (default ALL)")
    .option("--env <environment>", ".wharf-ci.yml environment")
    .option("--instance <id>", "wharf-api instance id")
    .option("-i, --input <key=value>", "input value (repeatable)", collectInput, {})
    .option("--json", "print the worker as JSON")
    .action(async (repoUrl: string, flags: Record<string, string | boolean | Record<string, string>>) => {
      const inputs = flags.input as Record<string, string>;
      const { worker, created } = await (await client()).createWorker({
        GIT_FULLURL: repoUrl,
        BUILD_REF: formatBuildId((flags.buildRef as BuildId | undefined) ?? Math.floor(Date.now() / 1000)),
        ...(flags.branch ? { GIT_BRANCH: flags.branch as string } : {}),
        ...(flags.stage ? { RUN_STAGES: flags.stage as string } : {}),
        ...(flags.env ? { ENVIRONMENT: flags.env as string } : {}),
        ...(flags.instance ? { WHARF_INSTANCE: flags.instance as string } : {}),
        ...(Object.keys(inputs).length ? { VARS: JSON.stringify(inputs) } : {}),
      });
      if (flags.json) out(JSON.stringify(worker, null, 2));
      else
        out(
          `${created ? "created" : "exists"} ${worker.workerId} (build ${worker.buildRef}, ${worker.status})`,
        );
    });

  p.command("list")
    .description("List workers")
    .option("--status <status>", "only these statuses (comma-separated)")
    .option("--build-ref <n>", "only this build", buildIdFlag)
    .option("--json", "print JSON")
    .action(async (flags: { status?: string; buildRef?: BuildId; json?: boolean }) => {
      const workers = await (await client()).listWorkers({
        ...(flags.status ? { status: flags.status } : {}),
        ...(flags.buildRef !== undefined ? { buildId: flags.buildRef } : {}),
      });
      out(flags.json ? JSON.stringify(workers, null, 2) : formatWorkers(workers));
    });

  p.command("delete")
    .description("Stop and remove a worker")
    .requiredOption("--id <workerId>", "the worker to delete")
    .action(async (flags: { id: string }) => {
      await (await client()).deleteWorker(flags.id);
      out(`deleted ${flags.id}`);
    });
}
