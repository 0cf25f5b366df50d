import { type ChildProcess, spawn } from "node:child_process";
import { freePort, waitFor, wharfArgs } from "@wharf/testkit";

/**
 * A wharf service run as production runs it: the compiled `wharf <service> serve` in its
 * own process, configured by env alone, its whole output kept for the test to read.
 */
export interface ServiceProcess {
  readonly name: string;
  readonly url: string;
  readonly child: ChildProcess;
  /** Everything it wrote to stdout and stderr so far. */
  output(): string;
  /** SIGTERM, then SIGKILL after 15 s; resolves with the exit code (null: killed). */
  stop(): Promise<number | null>;
}

const PORT_ENV = { provisioner: "WHARF_PROVISIONER_PORT", aggregator: "WHARF_AGGREGATOR_PORT" } as const;
const HOST_ENV = { provisioner: "WHARF_PROVISIONER_HOST", aggregator: "WHARF_AGGREGATOR_HOST" } as const;

export async function startServiceProcess(
  service: keyof typeof PORT_ENV,
  env: Record<string, string>,
  name: string = service,
): Promise<ServiceProcess> {
  const port = await freePort();
  const chunks: Buffer[] = [];
  const child = spawn(process.execPath, wharfArgs([service, "serve"]), {
    env: {
      PATH: process.env.PATH ?? "/usr/bin:/bin",
      HOME: process.env.HOME ?? "/tmp",
      [HOST_ENV[service]]: "127.0.0.1",
      [PORT_ENV[service]]: String(port),
      ...env,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  child.stdout?.on("data", (c: Buffer) => chunks.push(c));
  child.stderr?.on("data", (c: Buffer) => chunks.push(c));
  const exited = new Promise<number | null>((r) => child.once("exit", (code) => r(code)));
  const output = () => Buffer.concat(chunks).toString("utf8");
  const url = `http://127.0.0.1:${port}`;
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill("SIGCONT"); // a stopped process cannot act on SIGTERM
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 15_000);
      const code = await exited;
      clearTimeout(timer);
      return code;
    }
    return child.exitCode;
  };
  try {
    await waitFor(
      `${name} answering /healthz`,
      async () => {
        if (child.exitCode !== null) throw new Error(`${name} exited ${child.exitCode}:\n${output()}`);
        return fetch(`${url}/healthz`).then(
          (r) => r.ok,
          () => false,
        );
      },
      30_000,
      100,
    );
  } catch (err) {
    await stop();
    throw err;
  }
  return { name, url, child, output, stop };
}
