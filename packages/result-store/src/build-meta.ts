import fs from "node:fs";
import { ResultStoreCorruptError } from "./errors.js";
import { writeFileAtomicSync } from "./file-io.js";
import type { StepDeclaration, StepStatus } from "./types.js";

export interface StepResult {
  exitCode: number | null;
  attempts: number;
}

/** build.json: what is not an event — the build's identity, step names and results, and its end. */
export interface BuildMeta {
  version: 1;
  buildRef: string;
  steps: StepDeclaration[];
  results: Record<string, StepResult>;
  finished: boolean;
  status: StepStatus | null;
  message: string;
}

export function newBuildMeta(buildRef: string): BuildMeta {
  return { version: 1, buildRef, steps: [], results: {}, finished: false, status: null, message: "" };
}

/** The stored meta, or undefined for a new build directory. */
export function readBuildMeta(path: string): BuildMeta | undefined {
  let text: string;
  try {
    text = fs.readFileSync(path, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw err;
  }
  let meta: unknown;
  try {
    meta = JSON.parse(text);
  } catch (err) {
    throw new ResultStoreCorruptError(`${path} is not valid JSON`, { cause: err });
  }
  if (typeof meta !== "object" || meta === null || (meta as { version?: unknown }).version !== 1) {
    throw new ResultStoreCorruptError(`${path} is not a version 1 build meta file`);
  }
  return meta as BuildMeta;
}

/** Replaces build.json atomically and durably: it holds the `finished` flag followers rely on. */
export function writeBuildMeta(path: string, meta: BuildMeta): void {
  writeFileAtomicSync(path, `${JSON.stringify(meta, null, 2)}\n`, true);
}
