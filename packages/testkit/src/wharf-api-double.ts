import http from "node:http";
import net from "node:net";
import { Readable } from "node:stream";
import { setTimeout as sleep } from "node:timers/promises";
import * as grpc from "@grpc/grpc-js";
import { loadApiProto } from "@wharf/proto";

/**
 * A stand-in for wharf-api that speaks its real protocol on one port, like the
 * real one: gRPC `wharf.api.v5.Builds/CreateLogStream` on h2c (told apart from
 * HTTP/1 by the HTTP/2 preface) and the HTTP routes the aggregator and watchdog
 * use (gRPC connections are piped to an internal grpc-js port). It records everything it accepts, in arrival order, and can be told to go
 * down, be slow or fail, so tests can prove nothing is lost or duplicated.
 *
 * Like wharf-api, a log line is stored as soon as it arrives on the stream (not
 * when the stream ends), so a stream cut midway leaves a stored prefix behind.
 */
export type WharfBuildStatus = "Scheduling" | "Running" | "Completed" | "Failed";
const statusIds: Record<WharfBuildStatus, number> = { Scheduling: 0, Running: 1, Completed: 2, Failed: 3 };

export interface RecordedLogLine {
  logId: number;
  buildId: number;
  workerLogId: number;
  workerStepId: number;
  timestamp: Date;
  message: string;
  /** When the double stored it (epoch ms), for latency measurements. */
  receivedAt: number;
}
export interface RecordedStatus {
  buildId: number;
  status: WharfBuildStatus;
  message: string;
  timestamp: string;
}
export interface RecordedArtifact {
  buildId: number;
  fileName: string;
  bytes: Buffer;
  /** True when the upload came without Content-Length, i.e. streamed in chunks. */
  chunked: boolean;
}
export interface DoubleBuild {
  buildId: number;
  status: WharfBuildStatus;
}

export interface WharfApiDoubleOptions {
  /** Bearer token every request must carry; unset = no auth. */
  token?: string;
  port?: number;
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
  statusesFor(buildId: number): WharfBuildStatus[];
  /** Registers (or overwrites) a build the way wharf-api would know it. */
  setBuild(buildId: number, status: WharfBuildStatus): void;
  build(buildId: number): DoubleBuild | undefined;
  /** Stops accepting connections and drops open ones (connection refused from now on). */
  goDown(): Promise<void>;
  comeUp(): Promise<void>;
  /** Delay before answering every HTTP request and every gRPC message. */
  setDelayMs(ms: number): void;
  /** The next `n` requests/calls fail (HTTP 503, gRPC UNAVAILABLE). */
  failNext(n: number): void;
  close(): Promise<void>;
}

type LogRequest = {
  buildId: number;
  workerLogId: number;
  workerStepId: number;
  timestamp: { seconds: number; nanos: number } | null;
  message: string;
};

export async function startWharfApiDouble(opts: WharfApiDoubleOptions = {}): Promise<WharfApiDouble> {
  const logs: RecordedLogLine[] = [];
  const statuses: RecordedStatus[] = [];
  const artifacts: RecordedArtifact[] = [];
  const builds = new Map<number, DoubleBuild>();
  let unauthorized = 0;
  let delayMs = 0;
  let failures = 0;
  const expected = opts.token ? `Bearer ${opts.token}` : undefined;
  const ensureBuild = (buildId: number) => {
    let b = builds.get(buildId);
    if (!b) {
      // Lenient: a build the test did not register is created on first contact.
      b = { buildId, status: "Scheduling" };
      builds.set(buildId, b);
    }
    return b;
  };
  const takeFailure = () => {
    if (failures === 0) return false;
    failures--;
    return true;
  };

  const grpcServer = new grpc.Server();
  grpcServer.addService(loadApiProto().Builds.service, {
    CreateLogStream: (
      call: grpc.ServerReadableStream<LogRequest, unknown>,
      callback: grpc.sendUnaryData<{ linesInserted: number }>,
    ) => {
      if (expected && call.metadata.get("authorization")[0] !== expected) {
        unauthorized++;
        callback({ code: grpc.status.UNAUTHENTICATED, details: "missing or wrong bearer token" });
        return;
      }
      if (takeFailure()) {
        callback({ code: grpc.status.UNAVAILABLE, details: "wharf-api double: told to fail" });
        return;
      }
      let inserted = 0;
      let failed = false;
      call.on("data", (line: LogRequest) => {
        // wharf-api skips lines without a valid timestamp or with build id 0.
        if (failed || !line.timestamp || line.buildId === 0) return;
        ensureBuild(line.buildId);
        logs.push({
          logId: logs.length + 1,
          buildId: line.buildId,
          workerLogId: line.workerLogId,
          workerStepId: line.workerStepId,
          timestamp: new Date(line.timestamp.seconds * 1000 + Math.floor(line.timestamp.nanos / 1e6)),
          message: line.message,
          receivedAt: Date.now(),
        });
        inserted++;
      });
      call.on("error", () => {
        failed = true;
      });
      call.on("end", () => {
        if (failed) return;
        const reply = () => callback(null, { linesInserted: inserted });
        if (delayMs > 0) void sleep(delayMs).then(reply);
        else reply();
      });
    },
  });
  // gRPC is served on an internal port; the public port hands it gRPC connections byte for byte.
  const grpcPort = await new Promise<number>((resolve, reject) =>
    grpcServer.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (err, p) =>
      err ? reject(err) : resolve(p),
    ),
  );

  const httpServer = http.createServer((req, res) => {
    void handleHttp(req, res).catch((err: unknown) => {
      if (!res.headersSent) res.writeHead(500, { "content-type": "application/json" });
      res.end(JSON.stringify({ title: "double error", detail: String(err) }));
    });
  });

  async function handleHttp(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const json = (code: number, body: unknown) => {
      res.writeHead(code, { "content-type": "application/json" });
      res.end(JSON.stringify(body));
    };
    if (delayMs > 0) await sleep(delayMs);
    if (expected && req.headers.authorization !== expected) {
      unauthorized++;
      req.resume();
      return json(401, { title: "Unauthorized" });
    }
    if (takeFailure()) {
      req.resume();
      return json(503, { title: "Service Unavailable", detail: "wharf-api double: told to fail" });
    }
    const url = new URL(req.url ?? "/", "http://double");
    const path = url.pathname;
    const match = (method: string, re: RegExp) => (req.method === method ? path.match(re) : null);
    const buildRoute = match("GET", /^\/api\/build\/(\d+)$/);
    const artifactsRoute = match("GET", /^\/api\/build\/(\d+)\/artifacts$/);
    const logRoute = match("GET", /^\/api\/build\/(\d+)\/log$/);
    const statusRoute = match("PUT", /^\/api\/build\/(\d+)\/status$/);
    const artifactRoute = match("POST", /^\/api\/build\/(\d+)\/artifact$/);
    if (req.method === "GET" && path === "/api/build") {
      const wanted = url.searchParams.getAll("statusId").map(Number);
      const list = [...builds.values()]
        .filter((b) => wanted.length === 0 || wanted.includes(statusIds[b.status]))
        .map(buildResponse);
      return json(200, { list, totalCount: list.length });
    }
    if (buildRoute) {
      const build = builds.get(Number(buildRoute[1]));
      return build ? json(200, buildResponse(build)) : json(404, { title: "Not Found" });
    }
    if (artifactsRoute) {
      const buildId = Number(artifactsRoute[1]);
      return json(
        200,
        artifacts.flatMap((a, i) =>
          a.buildId === buildId
            ? [{ artifactId: i + 1, buildId, name: a.fileName, fileName: a.fileName }]
            : [],
        ),
      );
    }
    if (logRoute) {
      const buildId = Number(logRoute[1]);
      return json(
        200,
        logs
          .filter((l) => l.buildId === buildId)
          .map((l) => ({ logId: l.logId, buildId, message: l.message, timestamp: l.timestamp })),
      );
    }
    if (statusRoute) {
      const buildId = Number(statusRoute[1]);
      const body = JSON.parse(await readText(req)) as Partial<RecordedStatus>;
      if (!body.status || !(body.status in statusIds)) return json(400, { title: "invalid status" });
      const build = ensureBuild(buildId);
      build.status = body.status;
      statuses.push({
        buildId,
        status: body.status,
        message: body.message ?? "",
        timestamp: body.timestamp ?? "",
      });
      return json(200, buildResponse(build));
    }
    if (artifactRoute) {
      const buildId = Number(artifactRoute[1]);
      const chunked = req.headers["content-length"] === undefined;
      const form = await new Response(Readable.toWeb(req) as ReadableStream, {
        headers: { "content-type": req.headers["content-type"] ?? "" },
      }).formData();
      const saved: { artifactId: number; fileName: string }[] = [];
      for (const file of form.getAll("files")) {
        if (typeof file === "string") continue;
        ensureBuild(buildId);
        artifacts.push({
          buildId,
          fileName: file.name,
          bytes: Buffer.from(await file.arrayBuffer()),
          chunked,
        });
        saved.push({ artifactId: artifacts.length, fileName: file.name });
      }
      if (saved.length === 0) return json(400, { title: "no files in multipart field 'files'" });
      return json(201, saved);
    }
    req.resume();
    return json(404, { title: "Not Found", detail: `${req.method} ${path}` });
  }

  // One port for both protocols: gRPC clients open with the HTTP/2 preface "PRI * HTTP/2.0".
  const sockets = new Set<net.Socket>();
  const front = net.createServer((socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    socket.on("error", () => {});
    socket.once("data", (first: Buffer) => {
      socket.pause();
      if (first.subarray(0, 3).toString("latin1") === "PRI") {
        const upstream = net.connect(grpcPort, "127.0.0.1");
        sockets.add(upstream);
        upstream.on("close", () => sockets.delete(upstream));
        upstream.on("error", () => socket.destroy());
        socket.on("close", () => upstream.destroy());
        upstream.write(first);
        socket.pipe(upstream).pipe(socket);
        socket.resume();
      } else {
        socket.unshift(first);
        httpServer.emit("connection", socket);
        socket.resume();
      }
    });
  });
  const listen = (port: number) =>
    new Promise<number>((resolve, reject) => {
      front.once("error", reject);
      front.listen(port, "127.0.0.1", () => {
        front.off("error", reject);
        resolve((front.address() as net.AddressInfo).port);
      });
    });
  const port = await listen(opts.port ?? 0);
  let up = true;
  async function goDown(): Promise<void> {
    if (!up) return;
    up = false;
    const closed = new Promise<void>((resolve) => front.close(() => resolve()));
    for (const s of sockets) s.destroy();
    await closed;
  }

  return {
    url: `http://127.0.0.1:${port}`,
    grpcAddress: `127.0.0.1:${port}`,
    logs,
    statuses,
    artifacts,
    get unauthorized() {
      return unauthorized;
    },
    logsFor: (buildId) => logs.filter((l) => l.buildId === buildId),
    statusesFor: (buildId) => statuses.filter((s) => s.buildId === buildId).map((s) => s.status),
    setBuild: (buildId, status) => void builds.set(buildId, { buildId, status }),
    build: (buildId) => builds.get(buildId),
    goDown,
    async comeUp() {
      if (up) return;
      await listen(port);
      up = true;
    },
    setDelayMs: (ms) => {
      delayMs = ms;
    },
    failNext: (n) => {
      failures = n;
    },
    async close() {
      await goDown();
      grpcServer.forceShutdown();
      httpServer.close();
    },
  };
}

function buildResponse(b: DoubleBuild) {
  // Shape of wharf-api v5's response.Build (the fields a client may read).
  return {
    buildId: b.buildId,
    statusId: statusIds[b.status],
    status: b.status,
    projectId: 0,
    scheduledOn: null,
    startedOn: null,
    finishedOn: null,
    gitBranch: "",
    environment: null,
    stage: "",
    params: [],
    isInvalid: false,
    testResultSummaries: [],
  };
}

async function readText(req: http.IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}
