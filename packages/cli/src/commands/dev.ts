import path from "node:path";
import { readSettings } from "@wharf/config/settings";
import { DEV_BUILD_SETTINGS } from "@wharf/dev-stack/settings";
import { type Command, InvalidArgumentError } from "commander";
import { collectInput, resolveUserPath } from "../invocation.js";

function parseBackend(value: string): "local" | "docker" {
  if (value !== "local" && value !== "docker") throw new InvalidArgumentError("expected local or docker");
  return value;
}

const buildSettings = () => readSettings(DEV_BUILD_SETTINGS, process.env);

/**
 * `wharf up` (the whole system on one machine: dev sink, provisioner, aggregator) and
 * `wharf build [dir]` (a real build through all three, logs followed, exit with its result).
 */
export function register(program: Command): void {
  program
    .command("up")
    .description("run the dev sink (wharf-api stand-in), provisioner and aggregator on embedded defaults")
    .option("--backend <kind>", "worker backend: local or docker", parseBackend, "local")
    .option("--host <host>", "address to listen on", "127.0.0.1")
    .action(async (flags: { backend: "local" | "docker"; host: string }) => {
      const { createLogger, GracefulShutdown } = await import("@wharf/config");
      const { compileDevStackOptions, startDevStack } = await import("@wharf/dev-stack");
      const log = createLogger("up", undefined, { pretty: true });
      const stack = await startDevStack(compileDevStackOptions(process.env, flags), log);
      const shutdown = new GracefulShutdown(log, 30_000);
      shutdown.add("dev stack", () => stack.close());
      shutdown.handleSignals(0);
      process.stdout.write(
        `wharf is up (${flags.backend} backend)\n` +
          `  dev sink (wharf-api) ${stack.sinkUrl}\n` +
          `  provisioner          ${stack.provisionerUrl}   (docs: ${stack.provisionerUrl}/api/docs)\n` +
          `  aggregator           ${stack.aggregatorUrl}\n` +
          "run `pnpm wharf build examples/hello` in another terminal; Ctrl-C stops everything\n",
      );
    });

  program
    .command("build")
    .description("build a directory through provisioner → worker → aggregator → dev sink, following its logs")
    .argument("[dir]", "directory holding .wharf-ci.yml", ".")
    .option("--backend <kind>", "worker backend when no `wharf up` is running", parseBackend, "local")
    .option("-s, --stage <name>", "run only this stage")
    .option("-e, --env <name>", "environment to use")
    .option("-i, --input <key=value>", "input value (repeatable)", collectInput, {})
    .option("--sink <url>", "dev sink of a running `wharf up`", buildSettings().sinkUrl)
    .action(
      async (
        dir: string,
        flags: {
          backend: "local" | "docker";
          stage?: string;
          env?: string;
          input: Record<string, string>;
          sink: string;
        },
      ) => {
        const { runDevBuild } = await import("@wharf/dev-stack");
        process.exitCode = await runDevBuild({
          dir: resolveUserPath(dir),
          sinkUrl: flags.sink,
          dataDir: path.resolve(buildSettings().dataDir),
          backend: flags.backend,
          inputs: flags.input,
          env: process.env,
          ...(flags.stage ? { stage: flags.stage } : {}),
          ...(flags.env ? { environment: flags.env } : {}),
        });
        // Worker processes and timers of an embedded stack are gone; do not wait on stray handles.
        process.exit(Number(process.exitCode));
      },
    );
}
