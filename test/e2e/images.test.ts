import { execFile } from "node:child_process";
import { statSync } from "node:fs";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { createTestDatabase, type TestDatabase } from "@wharf/db";
import {
  BUSYBOX_IMAGE,
  freePort,
  makeGitRepo,
  requireDockerOrSkip,
  startWharfApiDouble,
  type WharfApiDouble,
  waitFor,
  wharfImage,
} from "@wharf/testkit";
import { afterAll, beforeAll, expect, inject, it } from "vitest";
import { wharfApiQuery } from "./stack.js";

// The images as operators run them: the provisioner and aggregator images on the host network
// against real Postgres and the wharf-api double, the provisioner starting wharf/worker
// containers through the Docker socket. Nothing of this checkout is mounted into them.

const run = promisify(execFile);
const hasDocker = await requireDockerOrSkip();
const TOKEN = "images-provisioner-token";
const suffix = `${process.pid}-${Date.now().toString(36)}`;
const instance = `images-${suffix}`;
const containers: string[] = [];
let api: WharfApiDouble;
let db: TestDatabase;
let tmp: string;
let provisionerUrl: string;
let aggregatorUrl: string;

async function docker(...args: string[]): Promise<string> {
  return (await run("docker", args, { timeout: 60_000 })).stdout.trim();
}

/** Starts `image` on the host network with `env`; removed after the file. */
async function startContainer(
  name: string,
  image: string,
  env: Record<string, string>,
  extra: string[] = [],
) {
  containers.push(name);
  const envArgs = Object.entries(env).flatMap(([k, v]) => ["-e", `${k}=${v}`]);
  await docker("run", "-d", "--name", name, "--network", "host", ...extra, ...envArgs, image);
}

/** The services' own output, to say why when a wait fails. */
async function serviceLogs(): Promise<string> {
  const out: string[] = [];
  for (const name of containers) {
    const { stdout, stderr } = await run("docker", ["logs", "--tail", "200", name]).catch(() => ({
      stdout: "",
      stderr: "",
    }));
    const lines = `${stdout}${stderr}`.split("\n").filter((l) => !l.includes('"msg":"incoming request"'));
    out.push(`--- ${name}\n${lines.filter((l) => !l.includes('"msg":"request completed"')).join("\n")}`);
  }
  return out.join("\n");
}

async function healthy(url: string): Promise<boolean> {
  return fetch(`${url}/healthz`).then(
    (r) => r.ok,
    () => false,
  );
}

beforeAll(async () => {
  if (!hasDocker) return;
  api = await startWharfApiDouble();
  db = await createTestDatabase(inject("pgUrl"), "images");
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), "wharf-images-"));
  await run("chown", ["1000:1000", tmp]);
  const [provisionerPort, aggregatorPort] = [await freePort(), await freePort()];
  provisionerUrl = `http://127.0.0.1:${provisionerPort}`;
  aggregatorUrl = `http://127.0.0.1:${aggregatorPort}`;
  const socket = "/var/run/docker.sock";
  await startContainer(
    `wharf-images-provisioner-${suffix}`,
    wharfImage("provisioner"),
    {
      DATABASE_URL: db.url,
      WHARF_PROVISIONER_HOST: "127.0.0.1",
      WHARF_PROVISIONER_PORT: String(provisionerPort),
      WHARF_PROVISIONER_TOKEN: TOKEN,
      WHARF_PROVISIONER_BACKEND: "docker",
      WHARF_WORKER_IMAGE: wharfImage("worker"),
      WHARF_WORKER_BINDS: `${tmp}:${tmp}:ro`,
      WHARF_POLL_INTERVAL: "200ms",
    },
    // The provisioner's user (node) reaches the engine through the socket's group.
    ["-v", `${socket}:${socket}`, "--group-add", String(statSync(socket).gid)],
  );
  await startContainer(`wharf-images-aggregator-${suffix}`, wharfImage("aggregator"), {
    DATABASE_URL: db.url,
    WHARF_API_URL: api.url,
    WHARF_DISCOVERY: "provisioner",
    WHARF_PROVISIONER_URL: provisionerUrl,
    WHARF_PROVISIONER_TOKEN: TOKEN,
    WHARF_AGGREGATOR_HOST: "127.0.0.1",
    WHARF_AGGREGATOR_PORT: String(aggregatorPort),
    WHARF_DISCOVERY_INTERVAL: "200ms",
  });
  await waitFor(
    "both services healthy",
    async () => (await healthy(provisionerUrl)) && healthy(aggregatorUrl),
    30_000,
  );
}, 90_000);

afterAll(async () => {
  if (!hasDocker) return;
  for (const name of containers) await docker("rm", "-f", "-v", name).catch(() => "");
  const left = await docker("ps", "-aq", "--filter", `label=wharf.iver.com/instance=${instance}`);
  if (left) await docker("rm", "-f", "-v", ...left.split("\n"));
  await api?.close();
  await db?.drop();
  await fs.rm(tmp, { recursive: true, force: true });
});

it.skipIf(!hasDocker)(
  "the provisioner and aggregator images run a build in the worker image to Completed at wharf-api",
  async () => {
    const repo = await makeGitRepo(path.join(tmp, "hello"), {
      ".wharf-ci.yml": `build:\n  hello:\n    container:\n      image: ${BUSYBOX_IMAGE}\n      cmds: ["echo hello from the images"]\n`,
    });
    await run("chown", ["-R", "1000:1000", repo]);
    const buildRef = 910_000_000 + (process.pid % 100_000);
    api.setBuild(buildRef, "Scheduling");
    const res = await fetch(`${provisionerUrl}/api/worker?${wharfApiQuery({ buildRef, repo }, instance)}`, {
      method: "POST",
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    expect(res.status, await res.clone().text()).toBe(201);
    await waitFor(
      "the build's end at wharf-api",
      () => api.build(buildRef)?.status === "Completed",
      60_000,
    ).catch(async (err: Error) => {
      throw new Error(`${err.message}\n${JSON.stringify(api.logsFor(buildRef))}\n${await serviceLogs()}`);
    });
    expect(api.logsFor(buildRef).map((l) => l.message)).toContain("hello from the images");
    // The worker container is released and removed once its results are relayed; a standby
    // started for the instance's next build may wait (its name says so).
    await waitFor(
      "no worker container left",
      async () => {
        const names = await docker(
          "ps",
          "-a",
          "--format",
          "{{.Names}}",
          "--filter",
          `label=wharf.iver.com/instance=${instance}`,
        );
        return names.split("\n").every((n) => n === "" || n.startsWith("wharf-standby-"));
      },
      30_000,
    );

    // Each service says which release and revision it is; Docker's HEALTHCHECK finds them healthy.
    const version = await docker(
      "image",
      "inspect",
      "-f",
      '{{index .Config.Labels "org.opencontainers.image.version"}}',
      wharfImage("provisioner"),
    );
    for (const name of containers) {
      const { stderr } = await run("docker", ["logs", name]);
      expect(stderr).toContain(`"version":"${version}"`);
      expect(stderr).toMatch(/"revision":"[0-9a-f]{12}(-dirty)?"/);
    }
    await waitFor(
      "Docker's HEALTHCHECK passes",
      async () => {
        const states = await Promise.all(
          containers.map((n) => docker("inspect", "-f", "{{.State.Health.Status}}", n)),
        );
        return states.every((s) => s === "healthy");
      },
      40_000,
    );
  },
  150_000,
);
