import { execFile, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { freePort } from "./postgres.js";
import { waitFor } from "./wait-for.js";

const run = promisify(execFile);

/** Debian's docker-registry (distribution 2.8): `apt-get install docker-registry`. */
export const REGISTRY_BIN = "/usr/bin/docker-registry";
/** apache2-utils' htpasswd, which writes the bcrypt entries the registry's htpasswd auth reads. */
const HTPASSWD_BIN = "/usr/bin/htpasswd";

export interface RegistryCredentials {
  user: string;
  password: string;
}

export interface TestRegistryOptions {
  /** A user the registry asks for (htpasswd auth); without it anyone may pull and push. */
  auth?: RegistryCredentials;
  /** The `host:port` to listen on, for a runtime configured beforehand; a free 127.0.0.1 port by default. */
  host?: string;
}

export interface TestRegistry {
  /** `host:port`, as image names and registry settings take it. */
  host: string;
  /** The `authorization` header of the registry's user, for asking its API directly; none without auth. */
  authorization: string | undefined;
  /** Stops the registry and removes its storage. */
  stop(): Promise<void>;
}

/** True when this host has what `startRegistry` needs (htpasswd too when `auth`). */
export function canStartRegistry(opts: { auth: boolean }): boolean {
  return existsSync(REGISTRY_BIN) && (!opts.auth || existsSync(HTPASSWD_BIN));
}

/**
 * A throwaway image registry over plain HTTP (engines trust loopback registries without TLS),
 * its storage and config in a temporary directory. Resolves once this process listens and
 * `/v2/` answers as configured (401 with auth, 200 without); rejects with the registry's own
 * words when it exits first (the address taken).
 */
export function startRegistry(
  opts: TestRegistryOptions & { auth: RegistryCredentials },
): Promise<TestRegistry & { authorization: string }>;
export function startRegistry(opts?: TestRegistryOptions): Promise<TestRegistry>;
export async function startRegistry(opts: TestRegistryOptions = {}): Promise<TestRegistry> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), "wharf-registry-"));
  const host = opts.host ?? `127.0.0.1:${await freePort()}`;
  const config = [
    "version: 0.1",
    // info: the "listening on" line tells this registry has the address (and not another process).
    "log: { level: info }",
    `storage: { filesystem: { rootdirectory: ${path.join(dir, "data")} } }`,
    `http: { addr: "${host}" }`,
  ];
  if (opts.auth) {
    const { stdout } = await run(HTPASSWD_BIN, ["-Bbn", opts.auth.user, opts.auth.password]);
    await fs.writeFile(path.join(dir, "htpasswd"), stdout);
    config.push(`auth: { htpasswd: { realm: wharf-test, path: ${path.join(dir, "htpasswd")} } }`);
  }
  await fs.writeFile(path.join(dir, "config.yml"), `${config.join("\n")}\n`);

  const registry = spawn(REGISTRY_BIN, ["serve", path.join(dir, "config.yml")], {
    stdio: ["ignore", "ignore", "pipe"],
  });
  // The last of its stderr, so that a registry that cannot start (port taken) says why.
  let stderr = "";
  let listening = false;
  registry.stderr.on("data", (chunk: Buffer) => {
    const text = stderr + chunk.toString();
    listening ||= text.includes('msg="listening on ');
    stderr = text.slice(-2000);
  });
  const exited = new Promise<void>((resolve) => {
    registry.once("exit", () => resolve());
    // Not started at all (the binary gone): no exit follows.
    registry.once("error", (err) => {
      stderr += err.message;
      resolve();
    });
  });
  let running = true;
  void exited.then(() => {
    running = false;
  });
  const stop = async () => {
    if (running) registry.kill("SIGKILL");
    await exited;
    await fs.rm(dir, { recursive: true, force: true });
  };

  const expected = opts.auth ? 401 : 200;
  try {
    await waitFor(`the registry on ${host} answering ${expected}`, () => {
      if (!running) throw new Error(`the registry on ${host} exited: ${stderr.trim()}`);
      if (!listening) return false;
      return fetch(`http://${host}/v2/`).then(
        (r) => r.status === expected,
        () => false,
      );
    });
  } catch (err) {
    await stop();
    throw err;
  }
  const authorization = opts.auth
    ? `Basic ${Buffer.from(`${opts.auth.user}:${opts.auth.password}`).toString("base64")}`
    : undefined;
  return { host, authorization, stop };
}
