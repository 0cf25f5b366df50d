import { ResultStoreArgumentError } from "./errors.js";

/** Default upper bound of one stored line, in UTF-8 bytes. */
export const DEFAULT_MAX_LINE_BYTES = 64 * 1024;
/** Smallest limit accepted: a line must hold at least one 4-byte character plus an escape. */
export const MIN_MAX_LINE_BYTES = 16;

export const SECRET_MASK = "***";

// C0 controls except \t (0x09) and \n (0x0a, the line separator), plus DEL. \r is in the set: a lone
// \r (progress bars) is escaped, only \r\n counts as a line end.
// biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is the point
const HAS_CONTROL_CHAR = /[\x00-\x08\x0b-\x1f\x7f]/;
const LINE_BREAK = /\r?\n/;

// SGR sequences (colours, bold: ESC [ params m) are kept: developers expect coloured
// logs, and they cannot move the cursor or retitle a terminal. Every other control
// character, including an ESC that starts anything else, is escaped.
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching ESC is the point
const CONTROL_OR_SGR = /\x1b\[[0-9;]{0,32}m|[\x00-\x08\x0b-\x1f\x7f]/g;

function escapeUnlessSgr(match: string): string {
  return match.length > 1 ? match : escapeControl(match);
}

function escapeControl(ch: string): string {
  return `\\x${ch.charCodeAt(0).toString(16).padStart(2, "0")}`;
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/**
 * Turns whatever a step printed into the lines the store keeps, in this order:
 * 1. bytes are decoded as UTF-8, invalid sequences become U+FFFD (lone surrogates in strings
 *    become U+FFFD when written), so stored text is always valid UTF-8;
 * 2. secrets are replaced by `***` (before splitting, so a long line cannot cut a secret in two);
 * 3. the text is split into lines at `\n` (`\r\n` too); a trailing newline does not make an empty line;
 * 4. control characters other than `\t` (NUL, ESC, lone `\r`, DEL...) are escaped as `\xNN`, so stored
 *    lines are printable (terminal escape sequences from a build cannot reach a viewer) — except
 *    SGR colour sequences (`ESC[31m`), which are kept so logs stay coloured;
 * 5. a line longer than `maxLineBytes` UTF-8 bytes is cut into several lines at character boundaries.
 */
export class LineEncoder {
  private secretPattern: RegExp | undefined;
  private readonly secrets: string[];

  constructor(
    secrets: readonly string[],
    readonly maxLineBytes: number = DEFAULT_MAX_LINE_BYTES,
  ) {
    if (!Number.isInteger(maxLineBytes) || maxLineBytes < MIN_MAX_LINE_BYTES) {
      throw new ResultStoreArgumentError(
        `maxLineBytes must be an integer >= ${MIN_MAX_LINE_BYTES}, got ${maxLineBytes}`,
      );
    }
    this.secrets = [...secrets];
    this.secretPattern = secretPattern(this.secrets);
  }

  /** Masks these values too from now on (secrets learnt after the store was opened). */
  addSecrets(more: readonly string[]): void {
    this.secrets.push(...more);
    this.secretPattern = secretPattern(this.secrets);
  }

  /**
   * An unfinished line as `encode` would give it, less any end of it that could be the start
   * of a secret (the rest of the secret may be in output not read yet, so masking cannot tell).
   * For lines shown before their newline (progress lines); "" when nothing is left.
   */
  encodeUnfinished(partial: string | Uint8Array): string {
    let text = typeof partial === "string" ? partial : Buffer.from(partial).toString("utf8");
    if (this.secretPattern) text = text.replace(this.secretPattern, SECRET_MASK);
    let keep = text.length;
    for (const secret of this.secrets) {
      for (let k = Math.min(secret.length - 1, text.length); k > 0; k--) {
        if (text.endsWith(secret.slice(0, k))) {
          keep = Math.min(keep, text.length - k);
          break;
        }
      }
    }
    return this.encode(text.slice(0, keep)).at(-1) ?? "";
  }

  encode(message: string | Uint8Array): string[] {
    let text = typeof message === "string" ? message : Buffer.from(message).toString("utf8");
    if (this.secretPattern) text = text.replace(this.secretPattern, SECRET_MASK);
    const parts = text.split(LINE_BREAK);
    if (parts.length > 1 && parts[parts.length - 1] === "") parts.pop();
    const lines: string[] = [];
    for (const part of parts) {
      const line = HAS_CONTROL_CHAR.test(part) ? part.replace(CONTROL_OR_SGR, escapeUnlessSgr) : part;
      // A UTF-16 unit encodes to at most 3 UTF-8 bytes, so short lines skip the byte count.
      if (line.length * 3 <= this.maxLineBytes || Buffer.byteLength(line) <= this.maxLineBytes) {
        lines.push(line);
      } else {
        splitByBytes(line, this.maxLineBytes, lines);
      }
    }
    return lines;
  }
}

/** Appends `line` to `out` in pieces of at most `max` UTF-8 bytes, never cutting a character. */
function splitByBytes(line: string, max: number, out: string[]): void {
  const bytes = Buffer.from(line, "utf8");
  let start = 0;
  while (start < bytes.length) {
    let end = Math.min(start + max, bytes.length);
    // Step back over continuation bytes (10xxxxxx) so the cut lands on a character start.
    while (end < bytes.length && end > start && (bytes[end]! & 0xc0) === 0x80) end--;
    out.push(bytes.toString("utf8", start, end));
    start = end;
  }
}

/**
 * One alternation of all secrets, longest first so a secret that contains another is masked whole.
 * Multi-line secrets (keys, certificates) are also masked line by line, since output may print them
 * one line per write.
 */
function secretPattern(secrets: readonly string[]): RegExp | undefined {
  const all = new Set<string>();
  for (const secret of secrets) {
    if (typeof secret !== "string" || secret === "") continue;
    all.add(secret);
    for (const line of secret.split(LINE_BREAK)) if (line.trim() !== "") all.add(line);
  }
  if (all.size === 0) return undefined;
  const sorted = [...all].sort((a, b) => b.length - a.length);
  return new RegExp(sorted.map(escapeRegExp).join("|"), "g");
}
