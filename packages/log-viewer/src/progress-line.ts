/**
 * The worker's store escapes a lone carriage return as the four characters `\x0d` (result-store's
 * LineEncoder), so a progress bar that redrew itself (`10%\r55%\r100%\n`) is one stored line.
 */
const CR = "\\x0d";
// biome-ignore lint/suspicious/noControlCharactersInRegex: SGR sequences start with ESC
const SGR = /\x1b\[[0-9;]*m/g;

/**
 * What a terminal ends up showing of such a line: the last non-empty segment (each `\r` went
 * back to the start of the line and the next segment overwrote it), with the SGR sequences of
 * the overwritten segments in front, since the colours they set still hold. `updates` counts
 * the carriage returns. The page does the same in assets/log-line.js (the browser's copy).
 */
export function progressText(message: string): { text: string; updates: number } {
  if (!message.includes(CR)) return { text: message, updates: 0 };
  const segments = message.split(CR);
  let last = segments.length - 1;
  while (last > 0 && segments[last]!.replace(SGR, "") === "") last--;
  const colours = segments.slice(0, last).join("").match(SGR) ?? [];
  return { text: colours.join("") + segments[last], updates: segments.length - 1 };
}
