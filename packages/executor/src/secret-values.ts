/**
 * Which parts of a secret value are worth masking in build logs. The log masks every
 * registered string wherever it occurs (and every line of a multi-line one), so registering
 * too much blanks out ordinary output. The rules:
 *
 * 1. A value is trimmed (files made with `--from-file` end in a newline). Trimmed pieces
 *    shorter than `MIN_MASKED_LENGTH` (6) characters are not masked: below that they are
 *    mostly usernames, ports, flags and words ("admin", "5432", "true") that would also
 *    hide ordinary text, and GitLab refuses to mask even < 8. Pieces without a letter or
 *    digit ("------") and the words true/false/null/none/undefined are not masked either.
 * 2. A single-line value is masked whole.
 * 3. A multi-line value (kubeconfig, PEM key, .netrc, pretty-printed JSON) is masked line
 *    by line, never whole (the log would otherwise mask each of its lines, "}" and
 *    "apiVersion: v1" included): a `key: value`, `"key": "value",` or `KEY=value` line
 *    masks only its value; a line that is only a key (`clusters:`) or a PEM armour line
 *    (`-----BEGIN ...-----`) masks nothing; any other line (a base64 row) is masked whole.
 *    Pieces of a multi-line value need `MIN_MASKED_LINE_LENGTH` (8, GitLab's minimum)
 *    characters: such files are full of short boilerplate (`kind: Config`, `name: prod`).
 * 4. A Docker config (`{"auths": {...}}`, single- or multi-line) also masks each registry's
 *    `auth` (base64 of `user:password`), its decoded `user:password` and password, and
 *    `password`, `identitytoken` and `registrytoken`.
 * 5. Binary values (not valid UTF-8, or with NUL bytes) cannot be printed as text: skipped.
 */
export const MIN_MASKED_LENGTH = 6;
export const MIN_MASKED_LINE_LENGTH = 8;

const TRIVIAL = new Set(["true", "false", "null", "none", "undefined"]);
const ARMOUR = /^-----(BEGIN|END) [A-Z0-9 ]+-----$/;
// `key: value` (YAML, JSON with optional quotes and a trailing comma) or `KEY=value` (.env, ini).
const KEY_COLON = /^-?\s*["']?[A-Za-z0-9_.\-/]+["']?\s*:(?:\s+(.*))?$/;
const KEY_EQUALS = /^(?:export\s+)?[A-Za-z_][A-Za-z0-9_.-]*\s*=\s*([^=\s].*)$/;

function maskable(piece: string, minLength: number): string | undefined {
  const t = piece.trim();
  if (t.length < minLength) return undefined;
  if (!/[\p{L}\p{N}]/u.test(t)) return undefined;
  if (TRIVIAL.has(t.toLowerCase())) return undefined;
  return t;
}

/** Strips the quotes and trailing comma of a JSON/YAML scalar. */
function scalar(text: string): string {
  let t = text.trim().replace(/,$/, "").trim();
  if (t.length >= 2 && (t[0] === '"' || t[0] === "'") && t.at(-1) === t[0]) t = t.slice(1, -1);
  return t;
}

function lineValues(line: string): string[] {
  const t = line.trim();
  if (ARMOUR.test(t)) return [];
  const colon = KEY_COLON.exec(t);
  if (colon) return colon[1] ? [scalar(colon[1])] : [];
  const equals = KEY_EQUALS.exec(t);
  if (equals?.[1]) return [scalar(equals[1])];
  return [t];
}

function decodeBase64(text: string): string | undefined {
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(text)) return undefined;
  const decoded = Buffer.from(text, "base64").toString("utf8");
  return decoded.includes("\uFFFD") || decoded.includes("\0") ? undefined : decoded;
}

function dockerConfigValues(value: string): string[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch {
    return [];
  }
  const auths = (parsed as { auths?: unknown } | null)?.auths;
  if (!auths || typeof auths !== "object") return [];
  const out: string[] = [];
  for (const entry of Object.values(auths as Record<string, unknown>)) {
    if (!entry || typeof entry !== "object") continue;
    const e = entry as Record<string, unknown>;
    for (const key of ["auth", "password", "identitytoken", "registrytoken"]) {
      if (typeof e[key] === "string") out.push(e[key] as string);
    }
    const decoded = typeof e.auth === "string" ? decodeBase64(e.auth) : undefined;
    if (decoded) {
      out.push(decoded);
      const colon = decoded.indexOf(":");
      if (colon >= 0) out.push(decoded.slice(colon + 1));
    }
  }
  return out;
}

/** The strings to register for masking for these secret values (see the rules above), without duplicates. */
export function maskableSecretValues(values: Iterable<string>): string[] {
  const out = new Set<string>();
  const add = (piece: string, minLength = MIN_MASKED_LENGTH) => {
    const m = maskable(piece, minLength);
    if (m !== undefined) out.add(m);
  };
  for (const raw of values) {
    if (typeof raw !== "string" || raw.includes("\0") || raw.includes("\uFFFD")) continue;
    const value = raw.trim();
    const lines = value.split(/\r?\n/);
    if (lines.length === 1) add(value);
    else for (const line of lines) for (const v of lineValues(line)) add(v, MIN_MASKED_LINE_LENGTH);
    for (const v of dockerConfigValues(value)) add(v);
  }
  return [...out];
}
