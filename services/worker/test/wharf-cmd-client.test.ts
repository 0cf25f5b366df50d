import { spawn } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { waitFor, wharfArgs } from "@wharf/testkit";
import { afterEach, describe, expect, it } from "vitest";

// Wire compatibility with wharf-cmd: a gRPC client built only from wharf-cmd's worker .proto
// (fixtures/wharf-cmd-worker-v1.proto: its field numbers, none of our additions) reads a build
// that a real `wharf run --serve` (the compiled CLI) finished before the client connected.
const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, "../../..");
const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0).reverse()) c();
});

interface Timestamp {
  seconds: string;
  nanos: number;
}
interface LogLine {
  logId: string;
  stepId: string;
  timestamp: Timestamp | null;
  message: string;
}
interface StatusEvent {
  eventId: string;
  stepId: string;
  status: string;
}
interface ArtifactEvent {
  artifactId: string;
  stepId: string;
  name: string;
}

/** The wharf-cmd client: longs and enums as wharf-cmd's Go client would print them (strings, names). */
type Stream = (req: object) => grpc.ClientReadableStream<unknown>;
interface WharfCmdWorkerClient {
  StreamLogs: Stream;
  StreamStatusEvents: Stream;
  StreamArtifactEvents: Stream;
}

function wharfCmdClient(address: string): WharfCmdWorkerClient {
  const definition = protoLoader.loadSync(path.join(here, "fixtures/wharf-cmd-worker-v1.proto"), {
    longs: String,
    enums: String,
    defaults: true,
  });
  const pkg = grpc.loadPackageDefinition(definition) as unknown as {
    wharf: { worker: { v1: { Worker: grpc.ServiceClientConstructor } } };
  };
  const client = new pkg.wharf.worker.v1.Worker(address, grpc.credentials.createInsecure());
  cleanups.push(() => client.close());
  return client as unknown as WharfCmdWorkerClient;
}

async function readAll<T>(stream: grpc.ClientReadableStream<unknown>): Promise<T[]> {
  const out: T[] = [];
  for await (const message of stream) out.push(message as T);
  return out;
}

/** `wharf run examples/artifacts --serve --port 0`: the child, its stdout/stderr and the gRPC port. */
function runServed() {
  const child = spawn(process.execPath, wharfArgs(["run", "examples/artifacts", "--serve", "--port", "0"]), {
    cwd: repo,
    env: { ...process.env, WHARF_LOG_LEVEL: "error", NO_COLOR: "1" },
  });
  cleanups.push(() => {
    if (child.exitCode === null) child.kill("SIGKILL");
  });
  const out = { stdout: "", stderr: "" };
  child.stdout.on("data", (d: Buffer) => {
    out.stdout += d.toString();
  });
  child.stderr.on("data", (d: Buffer) => {
    out.stderr += d.toString();
  });
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  return { child, out, exited };
}

describe("a client built from wharf-cmd's worker .proto", () => {
  it("reads every line, status and artifact of a finished `wharf run --serve` build", async () => {
    const r = runServed();
    await waitFor(
      "the build to finish",
      () => r.out.stderr.includes("build finished; still serving"),
      60_000,
    );
    const port = Number(/serving build results over gRPC on [^\s:]+:(\d+)/.exec(r.out.stderr)?.[1]);
    expect(port).toBeGreaterThan(0);
    const client = wharfCmdClient(`127.0.0.1:${port}`);

    // wharf-cmd's requests are empty: every line from the first; the streams end with the build.
    const lines = await readAll<LogLine>(client.StreamLogs({}));
    expect(lines.map((l) => Number(l.logId))).toEqual(lines.map((_, i) => i + 1));
    for (const l of lines) {
      expect(Number(l.timestamp?.seconds)).toBeGreaterThan(1_700_000_000);
      expect(Number(l.stepId)).toBeGreaterThan(0);
    }
    // Every line the terminal showed for the step, in the same order.
    const printed = r.out.stdout
      .split("\n")
      .filter((l) => l.startsWith("[build/compile] "))
      .map((l) => l.slice("[build/compile] ".length));
    expect(printed.length).toBeGreaterThan(0);
    expect(lines.map((l) => l.message)).toEqual(printed);

    const statuses = await readAll<StatusEvent>(client.StreamStatusEvents({}));
    expect(statuses.map((s) => Number(s.eventId))).toEqual(statuses.map((_, i) => i + 1));
    const stepId = lines[0]?.stepId;
    const ofStep = statuses.filter((s) => s.stepId === stepId).map((s) => s.status);
    expect(ofStep).toContain("STATUS_RUNNING");
    expect(ofStep.at(-1)).toBe("STATUS_SUCCESS");
    // The build as a whole (step 0) ends with the same status the terminal printed.
    expect(r.out.stdout).toMatch(/build \d+: SUCCESS/);
    expect(statuses.filter((s) => s.stepId === "0").at(-1)?.status).toBe("STATUS_SUCCESS");

    const artifacts = await readAll<ArtifactEvent>(client.StreamArtifactEvents({}));
    expect(artifacts.map((a) => [a.name, a.stepId])).toEqual([
      ["dist/app.bin", stepId],
      ["dist/reports/junit.xml", stepId],
    ]);

    r.child.kill("SIGTERM");
    expect(await r.exited).toBe(0);
  }, 90_000);
});
