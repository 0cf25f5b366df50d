import { versionLine } from "@wharf/config/build-info";
import { Command, CommanderError } from "commander";
import { commands } from "./commands/index.js";
import { writeErr } from "./invocation.js";

/** Exit codes: 0 ok, 1 the pipeline (or a build) has problems, 2 the command line is wrong. */
export const exitUsage = 2;

/** The `wharf` program with every command registered; commander never exits the process. */
export function buildProgram(): Command {
  const program = new Command("wharf")
    .description("Wharf CI: lint, plan and run .wharf-ci.yml pipelines")
    .version(versionLine(), "-V, --version", "print the version and git revision")
    .exitOverride()
    .showHelpAfterError("(run with --help for usage)")
    .allowExcessArguments(false);
  for (const command of commands) command.register(program);
  return program;
}

/** Runs the CLI and returns the exit code (it also leaves it in process.exitCode). */
export async function runCli(argv: readonly string[] = process.argv): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync([...argv]);
    return Number(process.exitCode ?? 0);
  } catch (err) {
    if (err instanceof CommanderError) {
      // Help and version output are successes; every other commander error is a usage error.
      const ok = err.code === "commander.helpDisplayed" || err.code === "commander.version";
      process.exitCode = ok ? 0 : exitUsage;
    } else {
      writeErr(`wharf: ${(err as Error).message ?? String(err)}`);
      process.exitCode = 1;
    }
    return Number(process.exitCode);
  }
}
