import type { Command } from "commander";
import { collectInput, maskSecrets, resolveUserPath, writeErr, writeOut } from "../invocation.js";

interface VarsFlags {
  env?: string;
  input?: Record<string, string>;
  json?: boolean;
}

/** `wharf vars [dir]`: every variable a build would see, with the source that wins. */
export function register(program: Command): void {
  program
    .command("vars")
    .description("list the variables a build would use, each with its source (highest priority wins)")
    .argument("[dir]", "a directory holding .wharf-ci.yml, or the file itself", ".")
    .option("-e, --env <name>", "the environment to run in")
    .option("-i, --input <key=value>", "set an input (repeatable)", collectInput)
    .option("--json", "print [{name,value,source,shadowed}] as JSON")
    .action(async (target: string, flags: VarsFlags) => {
      const { formatDiagnostic, hasErrors, loadPipeline } = await import("@wharf/wharfyml");
      const loaded = await loadPipeline(resolveUserPath(target), {
        environment: flags.env,
        inputs: flags.input ?? {},
      });
      for (const d of loaded.diagnostics) writeErr(formatDiagnostic(d));
      // Secrets are known even when the plan has errors: mask with what the plan would hold.
      const secrets = loaded.plan?.secrets ?? [];
      const list = maskSecrets(loaded.variables.list(), secrets);
      if (flags.json) writeOut(JSON.stringify(list, null, 2));
      else {
        const width = Math.max(4, ...list.map((v) => v.name.length));
        for (const v of list) {
          const shadowed = v.shadowed.length
            ? `  (overrides ${v.shadowed.map((s) => s.source).join(", ")})`
            : "";
          writeOut(`${v.name.padEnd(width)}  ${JSON.stringify(v.value)}  [${v.source}]${shadowed}`);
        }
      }
      process.exitCode = hasErrors(loaded.diagnostics) ? 1 : 0;
    });
}
