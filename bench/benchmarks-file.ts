import { existsSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

/** BENCHMARKS.md at the repository root. */
export const benchmarksFile = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../BENCHMARKS.md");

/**
 * Replaces the section that starts with the same `## ` heading as `section` (up to the
 * next `## `) in BENCHMARKS.md, or appends it, so each benchmark rewrites only its own figures.
 */
export function writeBenchmarkSection(section: string): void {
  const doc = existsSync(benchmarksFile) ? readFileSync(benchmarksFile, "utf8") : "# Benchmarks\n";
  const heading = section.trimStart().split("\n")[0]?.trim() ?? "";
  if (!heading.startsWith("## ")) throw new Error("a benchmark section starts with its ## heading");
  const lines = doc.split("\n");
  const start = lines.findIndex((l) => l.trim() === heading);
  let next: string;
  if (start === -1) {
    next = `${doc.replace(/\n*$/, "\n\n")}${section}`;
  } else {
    let end = lines.findIndex((l, i) => i > start && l.startsWith("## "));
    if (end === -1) end = lines.length;
    next = [...lines.slice(0, start), ...section.trimEnd().split("\n"), "", ...lines.slice(end)].join("\n");
  }
  writeFileSync(benchmarksFile, next.replace(/\n{3,}/g, "\n\n"));
}
