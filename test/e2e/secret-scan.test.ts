import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { createTestDatabase, openDatabase, type TestDatabase } from "@wharf/db";
import { workerTokenFor } from "@wharf/proto";
import { makePipelineRepo, startWharfApiDouble, type WharfApiDouble, waitFor } from "@wharf/testkit";
import { afterAll, beforeAll, expect, inject, it } from "vitest";
import { type ServiceProcess, startServiceProcess } from "./service-process.js";

// One whole build through provisioner → worker → aggregator → wharf-api double, every service
// a compiled process at debug log level on real Postgres, with a marker in every secret the
// system holds: the provisioner's, wharf-api's and the aggregator's tokens, the worker token key,
// GIT_TOKEN, a password input and the registry password workers push with. Then every process's output, every file the services and the worker wrote
// (result store, worker logs, state), every Postgres row and everything wharf-api stored are
// searched: no marker may appear, except masked as *** in the build's log.
const MARKERS = {
  provisionerToken: "mk-provisioner-token-7f3a91",
  wharfApiToken: "mk-wharf-api-token-5c2e08",
  aggregatorToken: "mk-aggregator-token-b41d77",
  workerKey: "mk-worker-key-93ab10",
  gitToken: "mk-git-token-0e9f35",
  passwordInput: "mk-password-input-a8c6d2",
  registryPassword: "mk-registry-password-c3f0e7",
};
const BUILD_ID = 5150;
const INSTANCE = "scan";
let tmp: string;
let db: TestDatabase;
let api: WharfApiDouble;
const services: ServiceProcess[] = [];
/** Contents of every file seen under `tmp` while the build ran (workers remove theirs when released). */
const fileContents = new Map<string, Set<string>>();
let sampling = true;

async function sampleFiles(dir: string): Promise<void> {
  const entries = await fs.readdir(dir, { withFileTypes: true, recursive: true }).catch(() => []);
  for (const e of entries) {
    if (!e.isFile()) continue;
    const file = path.join(e.parentPath, e.name);
    const text = await fs.readFile(file, "latin1").catch(() => undefined);
    if (text === undefined || text.length > 8 * 2 ** 20) continue;
    const seen = fileContents.get(file) ?? new Set<string>();
    seen.add(text);
    fileContents.set(file, seen);
  }
}

beforeAll(async () => {
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), "wharf-scan-"));
  db = await createTestDatabase(inject("pgUrl"), "scan");
  api = await startWharfApiDouble({ token: MARKERS.wharfApiToken });
  const provisioner = await startServiceProcess("provisioner", {
    DATABASE_URL: db.url,
    WHARF_DATA_DIR: path.join(tmp, "provisioner"),
    WHARF_PROVISIONER_TOKEN: MARKERS.provisionerToken,
    WHARF_WORKER_TOKEN: MARKERS.workerKey,
    // Handed on to every worker for its docker steps' pushes.
    WHARF_REGISTRY_URL: "127.0.0.1:5999",
    WHARF_REGISTRY_USER: "wharf-ci",
    WHARF_REGISTRY_PASSWORD: MARKERS.registryPassword,
    WHARF_POLL_INTERVAL: "200ms",
    WHARF_LOG_LEVEL: "debug",
  });
  services.push(provisioner);
  services.push(
    await startServiceProcess("aggregator", {
      DATABASE_URL: db.url,
      WHARF_DATA_DIR: path.join(tmp, "aggregator"),
      WHARF_API_URL: api.url,
      WHARF_API_TOKEN: MARKERS.wharfApiToken,
      WHARF_AGGREGATOR_TOKEN: MARKERS.aggregatorToken,
      WHARF_INSTANCE: INSTANCE,
      WHARF_DISCOVERY: "provisioner",
      WHARF_PROVISIONER_URL: provisioner.url,
      WHARF_PROVISIONER_TOKEN: MARKERS.provisionerToken,
      WHARF_DISCOVERY_INTERVAL: "200ms",
      WHARF_LOG_LEVEL: "debug",
    }),
  );
  void (async () => {
    while (sampling) {
      await sampleFiles(tmp);
      await new Promise((r) => setTimeout(r, 150));
    }
  })();
}, 60_000);

afterAll(async () => {
  sampling = false;
  for (const s of services) await s.stop();
  await api?.close();
  await db?.drop();
  await fs.rm(tmp, { recursive: true, force: true });
});

it("a whole build with a marker in every secret leaves none in any output, file, row or wharf-api", async () => {
  const [provisioner, aggregator] = services as [ServiceProcess, ServiceProcess];
  // The step prints its password input (it must come out masked) and digs for the worker's own
  // credentials in the worker process' environment: a standby worker (the local backend's
  // default) took them on stdin, so they are not there to find (its standby id is).
  const repo = await makePipelineRepo(
    path.join(tmp, "repo"),
    [
      "inputs:",
      "  - name: DEPLOY_PASSWORD",
      "    type: password",
      "    default: not-the-marker-123",
      "build:",
      "  leak:",
      "    container:",
      "      image: x",
      "      cmds:",
      `        - 'echo "password is \${DEPLOY_PASSWORD}"'`,
      `        - "tr '\\\\0' '\\\\n' < /proc/$PPID/environ | grep -E '^(GIT_TOKEN|WHARF_WORKER_TOKEN|WHARF_REGISTRY_PASSWORD|WHARF_STANDBY_ID)=' | sort"`,
      "",
    ].join("\n"),
  );
  api.setBuild(BUILD_ID, "Scheduling");
  const query = new URLSearchParams({
    BUILD_REF: String(BUILD_ID),
    GIT_FULLURL: repo,
    GIT_BRANCH: "master",
    GIT_TOKEN: MARKERS.gitToken,
    VARS: JSON.stringify({ DEPLOY_PASSWORD: MARKERS.passwordInput }),
    WHARF_INSTANCE: INSTANCE,
    token: MARKERS.provisionerToken,
  });
  const res = await fetch(`${provisioner.url}/api/worker?${query}`, { method: "POST" });
  expect(res.status).toBe(201);
  const { workerId } = (await res.json()) as { workerId: string };
  const workerToken = workerTokenFor(MARKERS.workerKey, workerId);

  await waitFor(
    "build Completed at wharf-api",
    () => api.statusesFor(BUILD_ID).includes("Completed"),
    90_000,
  );
  // The log page and API, with the token in the query as a browser's first load sends it.
  const page = await fetch(`${aggregator.url}/api/builds/${BUILD_ID}/logs?token=${MARKERS.aggregatorToken}`);
  expect(page.status).toBe(200);
  await waitFor(
    "worker released and removed",
    async () => {
      const list = await fetch(`${provisioner.url}/api/worker?instance=${INSTANCE}`, {
        headers: { authorization: `Bearer ${MARKERS.provisionerToken}` },
      });
      return ((await list.json()) as unknown[]).length === 0;
    },
    30_000,
    200,
  );
  sampling = false;
  await sampleFiles(tmp);

  // The step printed the password input: masked in the log wharf-api holds. It read the worker's
  // environment (its standby id is there) and found none of the worker's credentials in it.
  const log = api.logsFor(BUILD_ID).map((l) => l.message);
  expect(log).toContain("password is ***");
  expect(log.some((l) => /^WHARF_STANDBY_ID=[0-9a-f-]{36}$/.test(l))).toBe(true);
  expect(log.filter((l) => /^(GIT_TOKEN|WHARF_WORKER_TOKEN|WHARF_REGISTRY_PASSWORD)=/.test(l))).toEqual([]);

  const rows: string[] = [];
  const conn = await openDatabase({ url: db.url, maxConnections: 1 });
  try {
    const tables = await conn.query<{ name: string }>(
      "SELECT quote_ident(table_name) AS name FROM information_schema.tables WHERE table_schema = 'public'",
    );
    expect(tables.rows.length).toBeGreaterThan(2);
    for (const { name } of tables.rows) {
      const r = await conn.query<{ row: string }>(`SELECT row_to_json(t)::text AS row FROM ${name} t`);
      rows.push(...r.rows.map((x) => `${name}: ${x.row}`));
    }
  } finally {
    await conn.close();
  }
  const worker = [...fileContents.keys()].find((f) => f.endsWith(`${workerId}/worker.log`));
  expect(worker, "the worker's own log was seen").toBeDefined();
  expect([...fileContents.keys()].some((f) => f.includes(`${path.sep}results`))).toBe(true);

  const places: Record<string, string> = {
    ...Object.fromEntries(services.map((s) => [`${s.name} output`, s.output()])),
    ...Object.fromEntries(
      [...fileContents].map(([f, texts]) => [path.relative(tmp, f), [...texts].join("\n")]),
    ),
    "Postgres rows": rows.join("\n"),
    "wharf-api logs": JSON.stringify(api.logs),
    "wharf-api statuses": JSON.stringify(api.statuses),
    "wharf-api artifacts": JSON.stringify(api.artifacts),
  };
  const found: string[] = [];
  for (const [secret, value] of Object.entries({ ...MARKERS, workerToken })) {
    for (const [where, text] of Object.entries(places))
      if (text.includes(value)) found.push(`${secret} in ${where}`);
  }
  expect(found).toEqual([]);
  // The scan saw real output: the trigger's request was logged, its secrets masked.
  expect(provisioner.output()).toMatch(/GIT_TOKEN=\*\*\*.*VARS=\*\*\*.*token=\*\*\*/);
  expect(rows.some((r) => r.includes(workerId))).toBe(true);
}, 180_000);
