import http from "node:http";
import net from "node:net";
import { Readable } from "node:stream";
import * as grpc from "@grpc/grpc-js";
import { loadApiProto } from "@wharf/proto";
import {
  type BuildSink,
  isWharfBuildStatus,
  type SinkBuild,
  type SinkLogLine,
  statusIds,
} from "./build-sink.js";

/**
 * Serves wharf-api's protocol on one port, like wharf-api itself: gRPC
 * `wharf.api.v5.Builds/CreateLogStream` on h2c (told apart from HTTP/1 by the HTTP/2
 * preface) and the HTTP routes the aggregator, watchdog and CLI use. Storage is a
 * `BuildSink`. Like wharf-api, a log line is stored as it arrives on the stream, not
 * when the stream ends, so a stream cut midway leaves a stored prefix behind.
 */
export interface WharfApiServerOptions {
  sink: BuildSink;
  /** Bearer token every request must carry; unset = no auth. */
  token?: string;
  host?: string;
  port?: number;
  /** Called before each HTTP request and each gRPC call: delay, or answer "fail" (503/UNAVAILABLE). */
  gate?: () => Promise<"ok" | "fail">;
  /** Extra HTTP routes (the dev sink's own); return false when the route is not theirs. */
  extraRoutes?: (req: http.IncomingMessage, res: http.ServerResponse, url: URL) => Promise<boolean>;
}

export interface WharfApiServer {
  /** http://host:port — HTTP routes. */
  readonly url: string;
  /** host:port — the same port, gRPC over h2c. */
  readonly grpcAddress: string;
  readonly port: number;
  /** Requests refused for a missing or wrong token. */
  readonly unauthorized: number;
  /** Stops accepting connections and drops open ones. */
  goDown(): Promise<void>;
  comeUp(): Promise<void>;
  close(): Promise<void>;
}

type LogRequest = {
  buildId: number;
  workerLogId: number;
  workerStepId: number;
  timestamp: { seconds: number; nanos: number } | null;
  message: string;
};

export async function startWharfApiServer(opts: WharfApiServerOptions): Promise<WharfApiServer> {
  const { sink } = opts;
  const host = opts.host ?? "127.0.0.1";
  const gate = opts.gate ?? (async () => "ok" as const);
  const expected = opts.token ? `Bearer ${opts.token}` : undefined;
  let unauthorized = 0;

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
      void gate().then((verdict) => {
        if (verdict === "fail") {
          callback({ code: grpc.status.UNAVAILABLE, details: "wharf-api: told to fail" });
          return;
        }
        receiveLogStream(call, sink, callback);
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
      if (!res.headersSent) res.writeHead(500, { "content-type": "application/problem+json" });
      res.end(JSON.stringify({ title: "internal error", detail: String(err) }));
    });
  });

  async function handleHttp(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const json = (code: number, body: unknown) => {
      res.writeHead(code, { "content-type": code >= 400 ? "application/problem+json" : "application/json" });
      res.end(JSON.stringify(body));
    };
    const url = new URL(req.url ?? "/", "http://wharf-api");
    if (expected && req.headers.authorization !== expected) {
      unauthorized++;
      req.resume();
      return json(401, { title: "Unauthorized", status: 401 });
    }
    if ((await gate()) === "fail") {
      req.resume();
      return json(503, { title: "Service Unavailable", status: 503, detail: "told to fail" });
    }
    if (opts.extraRoutes && (await opts.extraRoutes(req, res, url))) return;
    const path = url.pathname;
    const match = (method: string, re: RegExp) => (req.method === method ? path.match(re) : null);
    if (req.method === "GET" && path === "/api/build") {
      const wanted = url.searchParams.getAll("statusId").map(Number);
      const list = (await sink.listBuilds(wanted)).map(buildResponse);
      return json(200, { list, totalCount: list.length });
    }
    const build = match("GET", /^\/api\/build\/(\d+)$/);
    if (build) {
      const b = await sink.getBuild(Number(build[1]));
      return b ? json(200, buildResponse(b)) : json(404, { title: "Not Found", status: 404 });
    }
    const artifactList = match("GET", /^\/api\/build\/(\d+)\/artifacts$/);
    if (artifactList) {
      const list = await sink.listArtifacts(Number(artifactList[1]));
      return json(
        200,
        list.map((a) => ({ ...a, name: a.fileName })),
      );
    }
    const artifactFile = match("GET", /^\/api\/build\/(\d+)\/artifact\/(\d+)$/);
    if (artifactFile) {
      const bytes = await sink.readArtifact(Number(artifactFile[1]), Number(artifactFile[2]));
      if (!bytes) return json(404, { title: "Not Found", status: 404 });
      res.writeHead(200, { "content-type": "application/octet-stream", "content-length": bytes.length });
      res.end(bytes);
      return;
    }
    const log = match("GET", /^\/api\/build\/(\d+)\/log$/);
    if (log) {
      // `after` (our extension) lets a follower page through a long log.
      const after = Number(url.searchParams.get("after") ?? 0) || 0;
      const lines = await sink.listLogs(Number(log[1]), after);
      return json(200, lines.map(logResponse));
    }
    const status = match("PUT", /^\/api\/build\/(\d+)\/status$/);
    if (status) {
      const buildId = Number(status[1]);
      let body: { status?: unknown; message?: unknown; timestamp?: unknown };
      try {
        body = JSON.parse(await readText(req)) as typeof body;
      } catch {
        return json(400, { title: "body is not JSON", status: 400 });
      }
      if (!isWharfBuildStatus(body.status)) return json(400, { title: "invalid status", status: 400 });
      const b = await sink.setStatus(
        buildId,
        body.status,
        typeof body.message === "string" ? body.message : "",
        typeof body.timestamp === "string" ? body.timestamp : new Date().toISOString(),
      );
      return json(200, buildResponse(b));
    }
    const upload = match("POST", /^\/api\/build\/(\d+)\/artifact$/);
    if (upload) {
      const buildId = Number(upload[1]);
      const streamed = req.headers["content-length"] === undefined;
      const form = await new Response(Readable.toWeb(req) as ReadableStream, {
        headers: { "content-type": req.headers["content-type"] ?? "" },
      }).formData();
      const saved: { artifactId: number; fileName: string }[] = [];
      for (const file of form.getAll("files")) {
        if (typeof file === "string") continue;
        const a = await sink.addArtifact(buildId, file.name, Buffer.from(await file.arrayBuffer()), streamed);
        saved.push({ artifactId: a.artifactId, fileName: a.fileName });
      }
      if (saved.length === 0) return json(400, { title: "no files in multipart field 'files'", status: 400 });
      return json(201, saved);
    }
    req.resume();
    return json(404, { title: "Not Found", status: 404, detail: `${req.method} ${path}` });
  }

  // One port for both protocols: gRPC clients open with the HTTP/2 preface "PRI * HTTP/2.0".
  const sockets = new Set<net.Socket>();
  // noDelay: without it Nagle holds back small writes (gRPC answers, WINDOW_UPDATEs) on both hops.
  const front = net.createServer({ noDelay: true }, (socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    socket.on("error", () => {});
    socket.once("data", (first: Buffer) => {
      socket.pause();
      if (first.subarray(0, 3).toString("latin1") === "PRI") {
        const upstream = net.connect({ port: grpcPort, host: "127.0.0.1", noDelay: true });
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
      front.listen(port, host, () => {
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
  const shownHost = host === "0.0.0.0" ? "127.0.0.1" : host;
  return {
    url: `http://${shownHost}:${port}`,
    grpcAddress: `${shownHost}:${port}`,
    port,
    get unauthorized() {
      return unauthorized;
    },
    goDown,
    async comeUp() {
      if (up) return;
      await listen(port);
      up = true;
    },
    async close() {
      await goDown();
      grpcServer.forceShutdown();
      httpServer.close();
    },
  };
}

/** Stores lines in arrival order, a small batch per event-loop turn, and answers once all are stored. */
function receiveLogStream(
  call: grpc.ServerReadableStream<LogRequest, unknown>,
  sink: BuildSink,
  callback: grpc.sendUnaryData<{ linesInserted: number }>,
): void {
  let inserted = 0;
  let failed = false;
  let pending: Omit<SinkLogLine, "logId">[] = [];
  let chain: Promise<void> = Promise.resolve();
  const flush = () => {
    if (pending.length === 0) return;
    const batch = pending;
    pending = [];
    chain = chain.then(() => sink.appendLogs(batch));
  };
  call.on("data", (line: LogRequest) => {
    // wharf-api skips lines without a valid timestamp or with build id 0.
    if (failed || !line.timestamp || line.buildId === 0) return;
    pending.push({
      buildId: line.buildId,
      workerLogId: line.workerLogId,
      workerStepId: line.workerStepId,
      timestamp: new Date(line.timestamp.seconds * 1000 + Math.floor(line.timestamp.nanos / 1e6)),
      message: line.message,
    });
    inserted++;
    if (pending.length === 1) setImmediate(flush);
  });
  call.on("error", () => {
    // Lines that arrived before the cut stay stored, as in wharf-api.
    failed = true;
    flush();
  });
  call.on("end", () => {
    if (failed) return;
    flush();
    chain.then(
      () => callback(null, { linesInserted: inserted }),
      (err: Error) => callback({ code: grpc.status.INTERNAL, details: err.message }),
    );
  });
}

function buildResponse(b: SinkBuild) {
  // The fields of wharf-api v5's response.Build a client may read.
  return {
    buildId: b.buildId,
    statusId: statusIds[b.status],
    status: b.status,
    projectId: 0,
    scheduledOn: null,
    startedOn: null,
    finishedOn: null,
    gitBranch: b.gitBranch ?? "",
    environment: b.environment ?? null,
    stage: b.stage ?? "",
    params: [],
    isInvalid: false,
    testResultSummaries: [],
  };
}

function logResponse(l: SinkLogLine) {
  return {
    logId: l.logId,
    buildId: l.buildId,
    workerLogId: l.workerLogId,
    workerStepId: l.workerStepId,
    message: l.message,
    timestamp: l.timestamp,
  };
}

export async function readText(req: http.IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}
