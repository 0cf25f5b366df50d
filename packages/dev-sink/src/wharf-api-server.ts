import http from "node:http";
import http2 from "node:http2";
import net from "node:net";
import { Readable } from "node:stream";
import type { BuildId } from "@wharf/proto/build-id";
import {
  CREATE_LOG_STREAM_PATH,
  isWharfApiBuildStatus,
  WHARF_API_ROUTES,
  wharfApiRoute,
  wharfApiStatusId,
} from "@wharf/proto/wharf-api";
import type { BuildSink, SinkBuild, SinkLogLine } from "./build-sink.js";
import { answerStatus, GrpcStatus } from "./grpc-answer.js";
import { handleCreateLogStream, PendingStores } from "./log-stream-receiver.js";

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

/** Per-stream receive window: bounds what one call buffers while the sink catches up. */
const STREAM_WINDOW_BYTES = 1024 * 1024;
const CONNECTION_WINDOW_BYTES = 4 * 1024 * 1024;

export async function startWharfApiServer(opts: WharfApiServerOptions): Promise<WharfApiServer> {
  const { sink } = opts;
  const host = opts.host ?? "127.0.0.1";
  const gate = opts.gate ?? (async () => "ok" as const);
  const expected = opts.token ? `Bearer ${opts.token}` : undefined;
  let unauthorized = 0;
  const stores = new PendingStores();

  // gRPC is plain HTTP/2 here: the one method is read by hand (see log-stream-receiver.ts),
  // which costs a fraction of grpc-js's generic decoding per line.
  const grpcServer = http2.createServer({ settings: { initialWindowSize: STREAM_WINDOW_BYTES } });
  grpcServer.on("session", (session) => {
    session.on("error", () => {});
    // The connection window bounds all streams together; the default 64 KiB would throttle one busy stream.
    session.setLocalWindowSize(CONNECTION_WINDOW_BYTES);
  });
  grpcServer.on("stream", (stream, headers) => {
    stream.on("error", () => {}); // a reset stream; the receiver sees it as "close"
    if (headers[":method"] === "POST" && headers[":path"] === CREATE_LOG_STREAM_PATH) {
      handleCreateLogStream(stream, headers, {
        sink,
        stores,
        expected,
        onUnauthorized: () => unauthorized++,
        gate,
      });
    } else {
      answerStatus(
        stream,
        GrpcStatus.UNIMPLEMENTED,
        `unknown method ${headers[":method"]} ${headers[":path"]}`,
      );
    }
  });

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
    const match = (method: string, route: Parameters<typeof wharfApiRoute>[0]) =>
      req.method === method ? wharfApiRoute(route, path) : undefined;
    if (req.method === "GET" && path === WHARF_API_ROUTES.builds) {
      const wanted = url.searchParams.getAll("statusId").map(Number);
      const list = (await sink.listBuilds(wanted)).map(buildResponse);
      return json(200, { list, totalCount: list.length });
    }
    const build = match("GET", "build");
    if (build) {
      const b = await sink.getBuild(build.buildId as BuildId);
      return b ? json(200, buildResponse(b)) : json(404, { title: "Not Found", status: 404 });
    }
    const artifactList = match("GET", "artifacts");
    if (artifactList) {
      const list = await sink.listArtifacts(artifactList.buildId as BuildId);
      return json(
        200,
        list.map((a) => ({ ...a, name: a.fileName })),
      );
    }
    const artifactFile = match("GET", "artifact");
    if (artifactFile) {
      const bytes = await sink.readArtifact(
        artifactFile.buildId as BuildId,
        artifactFile.artifactId as BuildId,
      );
      if (!bytes) return json(404, { title: "Not Found", status: 404 });
      res.writeHead(200, { "content-type": "application/octet-stream", "content-length": bytes.length });
      res.end(bytes);
      return;
    }
    const log = match("GET", "buildLog");
    if (log) {
      // `after` (our extension) lets a follower page through a long log.
      const after = Number(url.searchParams.get("after") ?? 0) || 0;
      await stores.settled();
      const lines = await sink.listLogs(log.buildId as BuildId, after);
      return json(200, lines.map(logResponse));
    }
    const status = match("PUT", "buildStatus");
    if (status) {
      const buildId = status.buildId as BuildId;
      let body: { status?: unknown; message?: unknown; timestamp?: unknown };
      try {
        body = JSON.parse(await readText(req)) as typeof body;
      } catch {
        return json(400, { title: "body is not JSON", status: 400 });
      }
      if (!isWharfApiBuildStatus(body.status)) return json(400, { title: "invalid status", status: 400 });
      const b = await sink.setStatus(
        buildId,
        body.status,
        typeof body.message === "string" ? body.message : "",
        typeof body.timestamp === "string" ? body.timestamp : new Date().toISOString(),
      );
      return json(200, buildResponse(b));
    }
    const upload = match("POST", "artifactUpload");
    if (upload) {
      const buildId = upload.buildId as BuildId;
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
  // noDelay: without it Nagle holds back small writes (gRPC answers, WINDOW_UPDATEs).
  const front = net.createServer({ noDelay: true }, (socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    socket.on("error", () => {});
    socket.once("data", (first: Buffer) => {
      socket.pause();
      socket.unshift(first);
      // Either server takes the socket as if it had accepted it. The HTTP/2 session reads
      // the socket's handle itself, after what is buffered (the unshifted preface).
      if (first.subarray(0, 3).toString("latin1") === "PRI") {
        grpcServer.emit("connection", socket);
      } else {
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
      grpcServer.close();
      httpServer.close();
    },
  };
}

function buildResponse(b: SinkBuild) {
  // The fields of wharf-api v5's response.Build a client may read.
  return {
    buildId: b.buildId,
    statusId: wharfApiStatusId(b.status),
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
