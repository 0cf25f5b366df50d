import { setTimeout as sleep } from "node:timers/promises";
import {
  type MemoryArtifact,
  MemorySink,
  type MemoryStatus,
  type SinkBuild,
  type SinkLogLine,
  startWharfApiServer,
} from "@wharf/dev-sink";
import type { WharfApiBuildStatus } from "@wharf/proto/wharf-api";

/**
 * A stand-in for wharf-api for tests: the real protocol server of `@wharf/dev-sink`
 * (gRPC CreateLogStream on h2c and the HTTP routes, on one port) over a memory sink
 * that records everything in arrival order, plus fault injection — go down, be slow,
 * fail the next N calls — so tests can prove nothing is lost or duplicated.
 */
export type RecordedLogLine = SinkLogLine & { receivedAt: number };
export type RecordedStatus = MemoryStatus;
export type RecordedArtifact = MemoryArtifact;
export type DoubleBuild = SinkBuild;

export interface WharfApiDoubleOptions {
  /** Bearer token every request must carry; unset = no auth. */
  token?: string;
  port?: number;
  /** Answer 404 to these routes, as a wharf-api version (or a proxy) without them does. */
  without?: ("GET /api/build/{id}/artifacts" | "GET /api/build/{id}/log" | "POST /api/build/{id}/artifact")[];
}

export interface WharfApiDouble {
  /** http://127.0.0.1:port — HTTP routes. */
  readonly url: string;
  /** 127.0.0.1:port — the same port, gRPC over h2c. */
  readonly grpcAddress: string;
  readonly logs: RecordedLogLine[];
  readonly statuses: RecordedStatus[];
  readonly artifacts: RecordedArtifact[];
  /** Requests refused for a missing or wrong token. */
  readonly unauthorized: number;
  logsFor(buildId: number): RecordedLogLine[];
  statusesFor(buildId: number): WharfApiBuildStatus[];
  /** Registers (or overwrites) a build the way wharf-api would know it. */
  setBuild(buildId: number, status: WharfApiBuildStatus): void;
  build(buildId: number): DoubleBuild | undefined;
  /** Stops accepting connections and drops open ones (connection refused from now on). */
  goDown(): Promise<void>;
  comeUp(): Promise<void>;
  /** Delay before answering every HTTP request and every gRPC call. */
  setDelayMs(ms: number): void;
  /** The next `n` requests/calls fail (HTTP 503, gRPC UNAVAILABLE). */
  failNext(n: number): void;
  close(): Promise<void>;
}

export async function startWharfApiDouble(opts: WharfApiDoubleOptions = {}): Promise<WharfApiDouble> {
  const sink = new MemorySink();
  let delayMs = 0;
  let failures = 0;
  const server = await startWharfApiServer({
    sink,
    ...(opts.token ? { token: opts.token } : {}),
    ...(opts.port ? { port: opts.port } : {}),
    ...(opts.without?.length
      ? {
          extraRoutes: async (req, res, url) => {
            const route = `${req.method} ${url.pathname.replace(/^\/api\/build\/\d+\//, "/api/build/{id}/")}`;
            if (!opts.without?.includes(route as never)) return false;
            req.resume();
            res.writeHead(404, { "content-type": "text/plain" }).end("404 page not found");
            return true;
          },
        }
      : {}),
    gate: async () => {
      if (delayMs > 0) await sleep(delayMs);
      if (failures === 0) return "ok";
      failures--;
      return "fail";
    },
  });
  return {
    url: server.url,
    grpcAddress: server.grpcAddress,
    logs: sink.logs,
    statuses: sink.statuses,
    artifacts: sink.artifacts,
    get unauthorized() {
      return server.unauthorized;
    },
    logsFor: (buildId) => sink.logs.filter((l) => l.buildId === buildId),
    statusesFor: (buildId) => sink.statuses.filter((s) => s.buildId === buildId).map((s) => s.status),
    setBuild: (buildId, status) => void sink.builds.set(buildId, { buildId, status }),
    build: (buildId) => sink.builds.get(buildId),
    goDown: () => server.goDown(),
    comeUp: () => server.comeUp(),
    setDelayMs: (ms) => {
      delayMs = ms;
    },
    failNext: (n) => {
      failures = n;
    },
    close: () => server.close(),
  };
}
