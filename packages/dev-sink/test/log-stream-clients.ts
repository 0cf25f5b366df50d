import http2 from "node:http2";
import * as grpc from "@grpc/grpc-js";
import { loadApiProto } from "@wharf/proto";
import { startWharfApiServer, type WharfApiServer, type WharfApiServerOptions } from "../src/index.js";

/** CreateLogStreamRequest as grpc-js takes it (proto-loader: camelCase, longs as numbers). */
export interface LogRequest {
  buildId?: number;
  workerLogId?: number;
  workerStepId?: number;
  timestamp?: { seconds: number; nanos: number };
  message?: string;
}

export const CREATE_LOG_STREAM = "/wharf.api.v5.Builds/CreateLogStream";

const { Builds } = loadApiProto();
const method = Builds.service.CreateLogStream as grpc.MethodDefinition<LogRequest, { linesInserted: number }>;

/** A message as the real serializer writes it, without the gRPC prefix. */
export function encodeRequest(line: LogRequest): Buffer {
  return method.requestSerialize(line);
}

/** A gRPC length-prefixed message; `flag` 1 marks it compressed. */
export function grpcFrame(message: Buffer, flag = 0): Buffer {
  const prefix = Buffer.alloc(5);
  prefix[0] = flag;
  prefix.writeUInt32BE(message.length, 1);
  return Buffer.concat([prefix, message]);
}

export function buildsClient(address: string): grpc.Client {
  return new Builds(address, grpc.credentials.createInsecure());
}

type StreamCall = grpc.ClientWritableStream<LogRequest>;
type Callback = (err: grpc.ServiceError | null, res?: { linesInserted: number }) => void;

/** Starts a CreateLogStream client stream through grpc-js's generated stub. */
export function openLogStream(
  client: grpc.Client,
  token: string | undefined,
  callback: Callback,
): StreamCall {
  const metadata = new grpc.Metadata();
  if (token) metadata.set("authorization", `Bearer ${token}`);
  const stub = client as unknown as { CreateLogStream(m: grpc.Metadata, cb: Callback): StreamCall };
  return stub.CreateLogStream(metadata, callback);
}

/** Sends all lines on one call and resolves with lines_inserted, or rejects with the gRPC error. */
export function sendLines(
  client: grpc.Client,
  lines: readonly LogRequest[],
  token?: string,
): Promise<number> {
  return new Promise((resolve, reject) => {
    const call = openLogStream(client, token, (err, res) =>
      err ? reject(err) : resolve(res?.linesInserted ?? -1),
    );
    for (const l of lines) call.write(l);
    call.end();
  });
}

export interface RawAnswer {
  headers: http2.IncomingHttpHeaders;
  trailers: http2.IncomingHttpHeaders;
  body: Buffer;
  /** grpc-status from the trailers, or from the headers of a trailers-only answer. */
  status: number;
  message: string;
}

/**
 * One call over bare HTTP/2, the body written as the given pieces, each a DATA
 * frame of its own (the next piece goes out once the previous one has left).
 */
export async function rawCall(
  address: string,
  pieces: readonly Buffer[],
  headers: http2.OutgoingHttpHeaders = {},
): Promise<RawAnswer> {
  const session = http2.connect(`http://${address}`);
  session.on("error", () => {});
  try {
    const stream = session.request({
      ":method": "POST",
      ":path": CREATE_LOG_STREAM,
      "content-type": "application/grpc",
      te: "trailers",
      ...headers,
    });
    const answer = readRawAnswer(stream);
    for (const piece of pieces) {
      if (stream.destroyed) break;
      await new Promise<void>((resolve) => stream.write(piece, () => resolve()));
      await new Promise((resolve) => setImmediate(resolve));
    }
    stream.end();
    return await answer;
  } finally {
    session.close();
  }
}

function readRawAnswer(stream: http2.ClientHttp2Stream): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    let headers: http2.IncomingHttpHeaders = {};
    let trailers: http2.IncomingHttpHeaders = {};
    const chunks: Buffer[] = [];
    stream.on("response", (h) => {
      headers = h;
    });
    stream.on("trailers", (t) => {
      trailers = t;
    });
    stream.on("data", (c: Buffer) => chunks.push(c));
    stream.on("error", reject);
    stream.on("close", () => {
      const status = trailers["grpc-status"] ?? headers["grpc-status"];
      const message = trailers["grpc-message"] ?? headers["grpc-message"] ?? "";
      resolve({
        headers,
        trailers,
        body: Buffer.concat(chunks),
        status: status === undefined ? -1 : Number(status),
        message: decodeURIComponent(String(message)),
      });
    });
  });
}

/** Cuts `bytes` into pieces of the given sizes, cycling through them. */
export function cut(bytes: Buffer, sizes: readonly number[]): Buffer[] {
  const pieces: Buffer[] = [];
  for (let p = 0, i = 0; p < bytes.length; i++) {
    const size = sizes[i % sizes.length] as number;
    pieces.push(bytes.subarray(p, p + size));
    p += size;
  }
  return pieces;
}

const started: (() => Promise<void>)[] = [];

/** Starts the server and a grpc-js Builds client on it; `closeStarted` (in afterEach) closes both. */
export async function startWithClient(
  opts: WharfApiServerOptions,
): Promise<{ server: WharfApiServer; client: grpc.Client }> {
  const server = await startWharfApiServer(opts);
  const client = buildsClient(server.grpcAddress);
  started.push(async () => {
    client.close();
    await server.close();
  });
  return { server, client };
}

export async function closeStarted(): Promise<void> {
  for (const close of started.splice(0).reverse()) await close();
}
