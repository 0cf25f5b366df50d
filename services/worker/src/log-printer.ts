import { styleText } from "node:util";
import type { BuildSummary, ResultStore } from "@wharf/result-store";

type Colour = Parameters<typeof styleText>[0];
const palette: Colour[] = ["cyan", "magenta", "yellow", "blue", "green", "red"];

/**
 * Follows the store's log and prints each line with a coloured `stage/step` prefix,
 * as `wharf run` shows it. Colours only on a TTY (styleText respects NO_COLOR too).
 */
export async function printLogs(
  store: ResultStore,
  out: NodeJS.WritableStream,
  colour: boolean,
): Promise<void> {
  const names = new Map<number, string>();
  const paint = (c: Colour, s: string) => (colour ? styleText(c, s) : s);
  for await (const batch of store.followLogs(0)) {
    let chunk = "";
    for (const line of batch) {
      if (names.size === 0)
        for (const s of store.summary().steps) names.set(s.stepId, `${s.stage}/${s.name}`);
      const name = line.stepId === 0 ? "wharf" : (names.get(line.stepId) ?? `step ${line.stepId}`);
      const c = palette[line.stepId % palette.length] as Colour;
      chunk += `${paint(c, `[${name}]`)} ${line.message}\n`;
    }
    if (!out.write(chunk)) await new Promise((r) => out.once("drain", r));
  }
}

/** The table printed after a build: one row per step, then the build's result. */
export function formatSummary(summary: BuildSummary, colour: boolean): string {
  const paintStatus = (s: string) => {
    if (!colour) return s;
    if (s === "SUCCESS") return styleText("green", s);
    if (s === "FAILED") return styleText("red", s);
    return styleText("yellow", s);
  };
  const rows = summary.steps.map((s) => [
    String(s.stepId),
    s.stage,
    s.name,
    s.status,
    s.exitCode === null ? "-" : String(s.exitCode),
    String(s.attempts),
  ]);
  const header = ["ID", "STAGE", "STEP", "STATUS", "EXIT", "ATTEMPTS"];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const fmt = (r: string[], paint = false) =>
    r
      .map((cell, i) => {
        const padded = cell.padEnd(widths[i] ?? 0);
        return paint && i === 3 ? paintStatus(cell) + padded.slice(cell.length) : padded;
      })
      .join("  ")
      .trimEnd();
  const lines = [fmt(header), ...rows.map((r) => fmt(r, true))];
  lines.push(
    "",
    `build ${summary.buildRef}: ${paintStatus(summary.status)}${summary.message ? ` (${summary.message})` : ""}`,
  );
  return `${lines.join("\n")}\n`;
}
