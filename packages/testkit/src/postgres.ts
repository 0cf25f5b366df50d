import { type ChildProcess, execFile } from "node:child_process";
import fs from "node:fs";
import fsp from "node:fs/promises";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);

function pgBinDir(): string {
  const base = "/usr/lib/postgresql";
  const versions = fs.existsSync(base) ? fs.readdirSync(base).sort((a, b) => Number(b) - Number(a)) : [];
  for (const v of versions) {
    const dir = path.join(base, v, "bin");
    if (fs.existsSync(path.join(dir, "initdb"))) return dir;
  }
  throw new Error("PostgreSQL server binaries not found: apt-get install postgresql");
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const addr = srv.address() as net.AddressInfo;
      srv.close(() => resolve(addr.port));
    });
  });
}

export interface PostgresCluster {
  /** Connection string of the `postgres` database. */
  url: string;
  port: number;
  stop(): Promise<void>;
}

/**
 * A throwaway PostgreSQL cluster on 127.0.0.1 (initdb + pg_ctl, ~1 s), fsync off.
 * Runs as the `postgres` OS user when we are root, since initdb refuses root.
 */
export async function startPostgres(): Promise<PostgresCluster> {
  const bin = pgBinDir();
  const dir = await fsp.mkdtemp(path.join(os.tmpdir(), "wharf-pg-"));
  const port = await freePort();
  const asRoot = process.getuid?.() === 0;
  const wrap = (cmd: string, args: string[]): [string, string[]] =>
    asRoot ? ["runuser", ["-u", "postgres", "--", cmd, ...args]] : [cmd, args];
  if (asRoot) await run("chown", ["postgres:postgres", dir]);
  await run(
    ...wrap(path.join(bin, "initdb"), [
      "-D",
      path.join(dir, "data"),
      "--auth=trust",
      "-U",
      "postgres",
      "-E",
      "UTF8",
    ]),
  );
  const opts = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200`;
  await run(
    ...wrap(path.join(bin, "pg_ctl"), [
      "-D",
      path.join(dir, "data"),
      "-o",
      opts,
      "-l",
      path.join(dir, "log"),
      "-w",
      "start",
    ]),
  );
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    port,
    async stop() {
      await run(
        ...wrap(path.join(bin, "pg_ctl"), ["-D", path.join(dir, "data"), "-m", "immediate", "-w", "stop"]),
      ).catch(() => {});
      await fsp.rm(dir, { recursive: true, force: true });
    },
  };
}

export type { ChildProcess };
