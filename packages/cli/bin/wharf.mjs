#!/usr/bin/env node
// The compiled CLI (`pnpm build` writes packages/cli/dist).
try {
  await import("../dist/wharf.mjs");
} catch (err) {
  if (err?.code === "ERR_MODULE_NOT_FOUND" && String(err.message).includes("dist/wharf.mjs")) {
    process.stderr.write("wharf: packages/cli/dist is missing; run `pnpm build` first\n");
    process.exit(1);
  }
  throw err;
}
