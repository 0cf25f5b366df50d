/**
 * Settings declared once: each environment variable a process reads is declared with its name,
 * kind, default and a line of doc, and the same declaration reads it (`readSettings`) and
 * documents it (`renderSettingsTable`, which writes docs/settings.md), so the doc cannot
 * drift from the code. What depends on more than one setting (a default derived from another,
 * a value allowed only with some backend) stays in each service's `compileOptions`.
 *
 * Hand-written rather than TypeBox (a dependency of @wharf/provisioner): an environment
 * variable is text, and what we need of a declaration is its parsing (durations, booleans
 * spelled yes/on, "k=v" lists, a command line), messages that name the variable and never
 * show a secret, and a doc line. TypeBox would give the inferred type and leave each of those
 * to glue around it; the whole reader here is smaller than that glue, and it loads nothing.
 */
import { ConfigError, type Env, parseDurationMs } from "./env.js";

export interface Setting<T> {
  /** The environment variable. */
  readonly env: string;
  /** Its kind as the doc shows it: "integer ≥ 1", "duration", "local | docker". */
  readonly type: string;
  readonly doc: string;
  /** The default as the doc shows it: the declared value, or what `defaultDoc` says. */
  readonly defaultText: string;
  /** A token, password or URL with credentials: its value never reaches a message or the doc. */
  readonly secret: boolean;
  readonly required: boolean;
  /** The value in `env`, or the default; a ConfigError naming the variable when it is not valid. */
  read(env: Env): T;
}

/** A declaration: the settings of one process (or executor), by the name its code uses. */
export type Settings = Record<string, Setting<unknown>>;

/** What `readSettings` gives for a declaration: each setting's type, inferred. */
export type SettingValues<S extends Settings> = { [K in keyof S]: S[K] extends Setting<infer T> ? T : never };

interface Common {
  doc: string;
  secret?: boolean;
  /** Unset (or empty) is an error. */
  required?: boolean;
  /** The doc's default when the code derives it (from another setting, the working directory…). */
  defaultDoc?: string;
}

/** With a default or required: the type; else the type or undefined. */
type Value<V, O> = O extends { default: unknown } ? V : O extends { required: true } ? V : V | undefined;

/** Turns one set value into its type; throws ConfigError naming the variable. */
type Parse<V> = (text: string, name: string) => V;

/** A declared default as the doc shows it: code, or "none" for an empty list. */
const literal = (text: string) => (text === "" ? "none" : `\`${text}\``);

function declare<V, O extends Common & { default?: V }>(
  env: string,
  type: string,
  o: O,
  parse: Parse<V>,
  show: (v: V) => string = String,
): Setting<Value<V, O>> {
  const secret = o.secret === true;
  const required = o.required === true;
  const defaultText =
    o.defaultDoc ??
    (o.default === undefined ? (required ? "required" : "unset") : secret ? "set" : literal(show(o.default)));
  return {
    env,
    type,
    doc: o.doc,
    defaultText,
    secret,
    required,
    read(vars: Env) {
      const text = vars[env];
      // Blank is unset: `X= ` in a compose file or a pod spec means "not set" far more often than " ".
      if (text === undefined || text.trim() === "") {
        if (required) throw new ConfigError(`${env} is required: ${o.doc}`);
        return o.default as Value<V, O>;
      }
      try {
        return parse(text, env) as Value<V, O>;
      } catch (err) {
        // A parser's message may quote the value; a secret's must not, nor its cause.
        if (secret) throw new ConfigError(`${env} must be ${type} (its value is a secret, not shown)`);
        throw err;
      }
    },
  };
}

function parseInteger(min: number | undefined, max: number | undefined): Parse<number> {
  return (text, name) => {
    const n = Number(text);
    if (!Number.isInteger(n)) throw new ConfigError(`${name} must be an integer, got "${text}"`);
    if (min !== undefined && max !== undefined && (n < min || n > max))
      throw new ConfigError(`${name} must be between ${min} and ${max}, got ${n}`);
    if (min === 0 && n < 0) throw new ConfigError(`${name} must be 0 or more, got ${n}`);
    if (min !== undefined && n < min) throw new ConfigError(`${name} must be at least ${min}, got ${n}`);
    if (max !== undefined && n > max) throw new ConfigError(`${name} must be at most ${max}, got ${n}`);
    return n;
  };
}

function intType(min?: number, max?: number): string {
  if (min !== undefined && max !== undefined) return `integer ${min}–${max}`;
  if (min !== undefined) return `integer ≥ ${min}`;
  return max === undefined ? "integer" : `integer ≤ ${max}`;
}

const parseBool: Parse<boolean> = (text, name) => {
  if (/^(1|true|yes|on)$/i.test(text)) return true;
  if (/^(0|false|no|off)$/i.test(text)) return false;
  throw new ConfigError(`${name} must be a boolean, got "${text}"`);
};

function parseDuration(positive: boolean): Parse<number> {
  return (text, name) => {
    let ms: number;
    try {
      ms = parseDurationMs(text);
    } catch (err) {
      throw new ConfigError(`${name}: ${(err as Error).message}`, { cause: err });
    }
    if (positive && ms <= 0) throw new ConfigError(`${name} must be longer than 0`);
    return ms;
  };
}

/** 90_000 → "1m30s", 604_800_000 → "168h": how the doc shows a duration. */
export function describeDurationMs(ms: number): string {
  if (ms === 0) return "0";
  let rest = ms;
  let out = "";
  for (const [unit, size] of [
    ["h", 3_600_000],
    ["m", 60_000],
    ["s", 1000],
    ["ms", 1],
  ] as const) {
    const n = Math.floor(rest / size);
    if (n > 0) out += `${n}${unit}`;
    rest -= n * size;
  }
  return out;
}

/** "a", "a or b", "a, b or c": the words of an enum's message. */
export function alternatives(values: readonly string[]): string {
  return values.length < 2 ? values.join("") : `${values.slice(0, -1).join(", ")} or ${values.at(-1)}`;
}

/** "a, b ,c" → ["a", "b", "c"]: empty items dropped. */
export function commaList(text: string): string[] {
  return text
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
}

const parseKeyValues: Parse<Record<string, string>> = (text, name) => {
  const out: Record<string, string> = {};
  for (const pair of commaList(text)) {
    const i = pair.indexOf("=");
    if (i <= 0) throw new ConfigError(`${name}: "${pair}" is not key=value`);
    out[pair.slice(0, i).trim()] = pair.slice(i + 1).trim();
  }
  return out;
};

/** "a b c", or a JSON array of strings for arguments with spaces. */
const parseCommand: Parse<string[]> = (text, name) => {
  const t = text.trim();
  if (!t.startsWith("[")) return t.split(/\s+/);
  let v: unknown;
  try {
    v = JSON.parse(t);
  } catch (err) {
    throw new ConfigError(`${name} is not a JSON array: ${(err as Error).message}`, { cause: err });
  }
  if (!Array.isArray(v) || v.length === 0 || !v.every((s) => typeof s === "string"))
    throw new ConfigError(`${name} must be a non-empty JSON array of strings`);
  return v as string[];
};

/** The kinds of setting; each builder's result type follows from its options (see `Value`). */
export const setting = {
  text: <const O extends Common & { default?: string }>(env: string, o: O) =>
    declare<string, O>(env, "text", o, (t) => t),

  int: <const O extends Common & { default?: number; min?: number; max?: number }>(env: string, o: O) =>
    declare<number, O>(env, intType(o.min, o.max), o, parseInteger(o.min, o.max)),

  bool: <const O extends Common & { default?: boolean }>(env: string, o: O) =>
    declare<boolean, O>(env, "boolean", o, parseBool),

  /** In ms; written as 250ms, 30s, 10m, 1h30m or a bare number of seconds. */
  duration: <const O extends Common & { default?: number; positive?: boolean }>(env: string, o: O) =>
    declare<number, O>(
      env,
      o.positive ? "duration > 0" : "duration",
      o,
      parseDuration(o.positive === true),
      describeDurationMs,
    ),

  oneOf: <const V extends readonly string[], const O extends Common & { default?: V[number] }>(
    env: string,
    values: V,
    o: O,
  ) =>
    declare<V[number], O>(env, values.join(" | "), o, (text, name) => {
      if (!values.includes(text))
        throw new ConfigError(`${name} must be ${alternatives(values)}, got "${text}"`);
      return text as V[number];
    }),

  /** Comma-separated. */
  list: <const O extends Common & { default?: readonly string[] }>(env: string, o: O) =>
    declare<readonly string[], O>(env, "a,b,…", o, commaList, (v) => v.join(",")),

  /** "k=v,k2=v2". */
  keyValues: <const O extends Common>(env: string, o: O) =>
    declare<Record<string, string>, O>(env, "k=v,k2=v2", o, parseKeyValues),

  /** A command line: "a b c", or a JSON array of strings. */
  command: <const O extends Common>(env: string, o: O) =>
    declare<string[], O>(env, "command", o, parseCommand),

  /** A JSON value that `check` accepts; `what` says what it must be. */
  json: <T, const O extends Common = Common>(
    env: string,
    o: O & { what: string; check: (v: unknown) => boolean },
  ) =>
    declare<T, O>(env, "JSON", o, (text, name) => {
      let v: unknown;
      try {
        v = JSON.parse(text);
      } catch (err) {
        throw new ConfigError(`${name} is not JSON: ${(err as Error).message}`, { cause: err });
      }
      if (!o.check(v)) throw new ConfigError(`${name} must be ${o.what}`);
      return v as T;
    }),

  /** Any other kind: `parse` throws ConfigError naming the variable; `type` is the doc's word for it. */
  parsed: <V, const O extends Common & { default?: V }>(env: string, type: string, parse: Parse<V>, o: O) =>
    declare<V, O>(env, type, o, parse),
};

/** Every setting of `settings` read from `env`: all are checked, so a typo in any fails at start. */
export function readSettings<S extends Settings>(settings: S, env: Env): SettingValues<S> {
  const out: Record<string, unknown> = {};
  for (const [key, s] of Object.entries(settings)) out[key] = s.read(env);
  return out as SettingValues<S>;
}

/** The env names of a declaration's settings, in declaration order. */
export function settingNames(settings: Settings): string[] {
  return Object.values(settings).map((s) => s.env);
}

/**
 * The set ones of `settings`, as they are (text): what a provisioner passes on to the workers
 * it starts, whose own declarations read them.
 */
export function passOn(settings: readonly Setting<unknown>[], env: Env): Record<string, string> {
  const out: Record<string, string> = {};
  for (const { env: name } of settings) {
    const v = env[name];
    if (v !== undefined && v !== "") out[name] = v;
  }
  return out;
}

/** A table cell: pipes escaped, and outside `code` "<" too, which markdown would take for an HTML tag. */
function cell(text: string): string {
  return text
    .replaceAll("|", "\\|")
    .replaceAll("\n", " ")
    .split("`")
    .map((part, i) => (i % 2 === 0 ? part.replaceAll("<", "\\<") : part))
    .join("`");
}

/** A markdown table of a declaration: variable, type, default, what (docs/settings.md). */
export function renderSettingsTable(settings: Settings): string {
  const rows = Object.values(settings).map((s) => {
    const type = s.secret ? `${s.type}, secret` : s.type;
    return `| \`${s.env}\` | ${cell(type)} | ${cell(s.defaultText)} | ${cell(s.doc)} |`;
  });
  return ["| variable | type | default | what |", "| --- | --- | --- | --- |", ...rows].join("\n");
}
