#!/usr/bin/env node
// The packages ship TypeScript sources (no build output): load them through tsx.
import { register } from "tsx/esm/api";

register();
const { runCli } = await import("../src/main.ts");
await runCli(process.argv);
