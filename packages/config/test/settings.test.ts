import { describe, expect, expectTypeOf, it } from "vitest";
import { ConfigError } from "../src/env.js";
import { describeDurationMs, readSettings, renderSettingsTable, setting } from "../src/settings.js";

const SETTINGS = {
  port: setting.int("T_PORT", { default: 5009, min: 0, max: 65535, doc: "port" }),
  workers: setting.int("T_WORKERS", { default: 4, min: 1, doc: "workers" }),
  budget: setting.int("T_BUDGET", { default: 10, min: 0, doc: "bytes" }),
  grace: setting.duration("T_GRACE", { default: 15_000, doc: "grace" }),
  timeout: setting.duration("T_TIMEOUT", { default: 3_600_000, positive: true, doc: "timeout" }),
  backend: setting.oneOf("T_BACKEND", ["local", "docker", "kubernetes"], {
    default: "local",
    doc: "backend",
  }),
  connect: setting.oneOf("T_CONNECT", ["port-forward", "pod-ip"], { doc: "how" }),
  watchdog: setting.bool("T_WATCHDOG", { default: false, doc: "watchdog" }),
  url: setting.text("T_URL", { required: true, doc: "wharf-api's HTTP address" }),
  token: setting.text("T_TOKEN", { secret: true, doc: "bearer token" }),
  binds: setting.list("T_BINDS", { default: [], doc: "binds" }),
  selector: setting.keyValues("T_SELECTOR", { doc: "node selector" }),
  command: setting.command("T_CMD", { doc: "command" }),
  resources: setting.json<{ cpu?: string }>("T_RESOURCES", {
    what: "a JSON object",
    check: (v) => typeof v === "object" && v !== null,
    doc: "resources",
  }),
  pin: setting.int("T_PIN", { secret: true, min: 1000, doc: "a secret number" }),
  key: setting.parsed(
    "T_PKEY",
    "PEM key",
    (text) => {
      throw new TypeError(`cannot parse ${text}`);
    },
    { secret: true, doc: "a key" },
  ),
  password: setting.json<string[]>("T_PASSWORDS", {
    secret: true,
    what: "a JSON array",
    check: Array.isArray,
    doc: "passwords",
  }),
};

const read = (env: Record<string, string>) => readSettings(SETTINGS, { T_URL: "http://a", ...env });

describe("readSettings", () => {
  it("gives the defaults, typed: a default or required makes a value, else it may be undefined", () => {
    const s = read({});
    expect(s).toMatchObject({ port: 5009, grace: 15_000, backend: "local", watchdog: false, binds: [] });
    expect([s.connect, s.token, s.selector, s.command, s.resources]).toEqual([
      undefined,
      undefined,
      undefined,
      undefined,
      undefined,
    ]);
    expectTypeOf(s.port).toEqualTypeOf<number>();
    expectTypeOf(s.url).toEqualTypeOf<string>();
    expectTypeOf(s.token).toEqualTypeOf<string | undefined>();
    expectTypeOf(s.backend).toEqualTypeOf<"local" | "docker" | "kubernetes">();
    expectTypeOf(s.connect).toEqualTypeOf<"port-forward" | "pod-ip" | undefined>();
    expectTypeOf(s.resources).toEqualTypeOf<{ cpu?: string } | undefined>();
  });

  it("reads set values of every kind; an empty or blank value counts as unset", () => {
    const s = read({
      T_PORT: "0",
      T_GRACE: "1m30s",
      T_BACKEND: "docker",
      T_WATCHDOG: "yes",
      T_BINDS: "/a:/a, /b:/b:ro,",
      T_SELECTOR: "pool=ci, zone = a",
      T_CMD: '["node", "a b.js"]',
      T_RESOURCES: '{"cpu":"1"}',
      T_TOKEN: "",
      T_WORKERS: "  ",
    });
    expect(s).toMatchObject({
      port: 0,
      grace: 90_000,
      backend: "docker",
      watchdog: true,
      binds: ["/a:/a", "/b:/b:ro"],
      selector: { pool: "ci", zone: "a" },
      command: ["node", "a b.js"],
      resources: { cpu: "1" },
    });
    expect([s.token, s.workers]).toEqual([undefined, 4]);
    expect(read({ T_CMD: " wharf  worker serve " }).command).toEqual(["wharf", "worker", "serve"]);
  });

  it.each([
    [{ T_PORT: "80.5" }, 'T_PORT must be an integer, got "80.5"'],
    [{ T_PORT: "70000" }, "T_PORT must be between 0 and 65535, got 70000"],
    [{ T_WORKERS: "0" }, "T_WORKERS must be at least 1, got 0"],
    [{ T_BUDGET: "-1" }, "T_BUDGET must be 0 or more, got -1"],
    [{ T_GRACE: "soon" }, /^T_GRACE: invalid duration "soon"/],
    [{ T_TIMEOUT: "0" }, "T_TIMEOUT must be longer than 0"],
    [{ T_BACKEND: "k8s" }, 'T_BACKEND must be local, docker or kubernetes, got "k8s"'],
    [{ T_CONNECT: "direct" }, 'T_CONNECT must be port-forward or pod-ip, got "direct"'],
    [{ T_WATCHDOG: "maybe" }, 'T_WATCHDOG must be a boolean, got "maybe"'],
    [{ T_SELECTOR: "pool" }, 'T_SELECTOR: "pool" is not key=value'],
    [{ T_CMD: "[1]" }, "T_CMD must be a non-empty JSON array of strings"],
    [{ T_RESOURCES: "{" }, /^T_RESOURCES is not JSON/],
    [{ T_RESOURCES: "1" }, "T_RESOURCES must be a JSON object"],
    [{ T_URL: "" }, "T_URL is required: wharf-api's HTTP address"],
  ])("refuses %j with an error naming the variable", (env, message) => {
    expect(() => read(env)).toThrow(ConfigError);
    expect(() => read(env)).toThrow(message);
  });

  it("never shows a secret's value in its error, nor in the cause", () => {
    const envs: Record<string, string>[] = [
      { T_PIN: "12" },
      { T_PIN: "s3cr3t-pin" },
      { T_PASSWORDS: '{"s3cr3t": 1}' },
      { T_PKEY: "s3cr3t-key" },
    ];
    for (const env of envs) {
      let error: unknown;
      try {
        read(env);
      } catch (err) {
        error = err;
      }
      expect(error).toBeInstanceOf(ConfigError);
      const value = Object.values(env)[0] as string;
      expect((error as Error).message).toMatch(/^T_P\w+ must be .*its value is a secret, not shown/);
      expect((error as Error).message).not.toContain(value);
      expect((error as Error).message).not.toContain("s3cr3t");
      expect((error as Error).cause).toBeUndefined();
    }
  });
});

describe("renderSettingsTable", () => {
  it("documents each setting once: variable, type, default, what; a secret's default not shown", () => {
    const table = renderSettingsTable({
      port: SETTINGS.port,
      timeout: SETTINGS.timeout,
      backend: SETTINGS.backend,
      binds: SETTINGS.binds,
      url: SETTINGS.url,
      token: SETTINGS.token,
      key: setting.text("T_KEY", { secret: true, default: "hunter2", doc: "a key" }),
      grace: setting.duration("T_SHUTDOWN", {
        defaultDoc: "<T_GRACE> + 5s",
        doc: "where `<dir>/<key>` <is>",
      }),
    });
    expect(table.split("\n")).toEqual([
      "| variable | type | default | what |",
      "| --- | --- | --- | --- |",
      "| `T_PORT` | integer 0–65535 | `5009` | port |",
      "| `T_TIMEOUT` | duration > 0 | `1h` | timeout |",
      "| `T_BACKEND` | local \\| docker \\| kubernetes | `local` | backend |",
      "| `T_BINDS` | a,b,… | none | binds |",
      "| `T_URL` | text | required | wharf-api's HTTP address |",
      "| `T_TOKEN` | text, secret | unset | bearer token |",
      "| `T_KEY` | text, secret | set | a key |",
      "| `T_SHUTDOWN` | duration | \\<T_GRACE> + 5s | where `<dir>/<key>` \\<is> |",
    ]);
  });

  it("writes durations as an operator would", () => {
    expect([0, 250, 1000, 90_000, 3_600_000, 604_800_000, 5_400_500].map(describeDurationMs)).toEqual([
      "0",
      "250ms",
      "1s",
      "1m30s",
      "1h",
      "168h",
      "1h30m500ms",
    ]);
  });
});
