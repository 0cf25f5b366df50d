// The `wharf` executable (compiled to packages/cli/dist/wharf.mjs by `pnpm build`).
// Source maps first, so stack traces of every module loaded after this point name .ts lines;
// then the CLI itself, whose commands import what they need only when they run.
import { fileURLToPath } from "node:url";
import { markWharfEntry } from "@wharf/config/build-info";

process.setSourceMapsEnabled(true);
markWharfEntry(fileURLToPath(import.meta.url));
const { runCli } = await import("./main.js");
await runCli(process.argv);
