import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import {
  compileOptions as compileAggregatorOptions,
  type RunningAggregator,
  startAggregator,
} from "@wharf/aggregator-service";
import { createLogger } from "@wharf/config";
import { createTestDatabase, type TestDatabase } from "@wharf/db";
import {
  compileOptions as compileProvisionerOptions,
  type RunningProvisioner,
  startProvisioner,
} from "@wharf/provisioner-service";
import { startWharfApiDouble, type WharfApiDouble } from "@wharf/testkit";

/**
 * The provisioner and aggregator services in this process as an operator configures them
 * (their env through compileOptions), on one real Postgres database, with the wharf-api double;
 * the provisioner's local backend runs each worker as a real process of the compiled CLI.
 */
export interface ServicePair {
  tmp: string;
  db: TestDatabase;
  api: WharfApiDouble;
  provisioner: RunningProvisioner;
  aggregator: RunningAggregator;
  token: string;
  instance: string;
  /** POSTs wharf-api's trigger for a build of `repo`; resolves with the HTTP status. */
  trigger(buildRef: number, repo: string, headers?: Record<string, string>): Promise<number>;
  close(): Promise<void>;
}

export async function startServicePair(opts: {
  name: string;
  pgUrl: string;
  /** Env both services get on top of the pair's own (e.g. OTEL_*, intervals). */
  env?: Record<string, string>;
}): Promise<ServicePair> {
  const token = `${opts.name}-token`;
  const instance = opts.name;
  const log = createLogger(opts.name, process.env.WHARF_LOG_LEVEL ?? "silent");
  const tmp = await fs.mkdtemp(path.join(os.tmpdir(), `wharf-${opts.name}-`));
  const db = await createTestDatabase(opts.pgUrl, opts.name.replaceAll("-", "_"));
  const api = await startWharfApiDouble();
  const provisioner = await startProvisioner(
    compileProvisionerOptions({
      ...opts.env,
      DATABASE_URL: db.url,
      WHARF_DATA_DIR: path.join(tmp, "provisioner"),
      WHARF_PROVISIONER_HOST: "127.0.0.1",
      WHARF_PROVISIONER_PORT: "0",
      WHARF_PROVISIONER_TOKEN: token,
    }),
    { log },
  );
  const aggregator = await startAggregator(
    compileAggregatorOptions({
      ...opts.env,
      DATABASE_URL: db.url,
      WHARF_API_URL: api.url,
      WHARF_INSTANCE: instance,
      WHARF_DISCOVERY: "provisioner",
      WHARF_PROVISIONER_URL: provisioner.url,
      WHARF_PROVISIONER_TOKEN: token,
      WHARF_AGGREGATOR_HOST: "127.0.0.1",
      WHARF_AGGREGATOR_PORT: "0",
    }),
    log,
  );
  return {
    tmp,
    db,
    api,
    provisioner,
    aggregator,
    token,
    instance,
    async trigger(buildRef, repo, headers = {}) {
      const query = new URLSearchParams({
        BUILD_REF: String(buildRef),
        GIT_FULLURL: repo,
        GIT_BRANCH: "master",
        WHARF_INSTANCE: instance,
        token,
      });
      const res = await fetch(`${provisioner.url}/api/worker?${query}`, { method: "POST", headers });
      await res.body?.cancel();
      return res.status;
    },
    async close() {
      await aggregator.close();
      await provisioner.close();
      await api.close();
      await db.drop();
      await fs.rm(tmp, { recursive: true, force: true });
    },
  };
}
