import * as grpc from "@grpc/grpc-js";
import { service as libraryHealthService } from "grpc-health-check";
import { afterEach, expect, it } from "vitest";
import { HealthStatusBoard } from "../src/health-service.js";

// Our hand-written grpc.health.v1 codecs and handlers, against the client that the
// grpc-health-check package builds from the official health.proto.
const LibraryClient = grpc.makeGenericClientConstructor(
  libraryHealthService as unknown as grpc.ServiceDefinition,
  "Health",
);
type Client = grpc.Client & {
  Check(
    req: { service: string },
    cb: (err: grpc.ServiceError | null, res?: { status: string }) => void,
  ): void;
  Watch(req: { service: string }): grpc.ClientReadableStream<{ status: string }>;
};

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

async function serve(board: HealthStatusBoard): Promise<Client> {
  const server = new grpc.Server();
  board.addToServer(server);
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (err, p) =>
      err ? reject(err) : resolve(p),
    ),
  );
  const client = new LibraryClient(
    `127.0.0.1:${port}`,
    grpc.credentials.createInsecure(),
  ) as unknown as Client;
  cleanups.push(() => {
    client.close();
    server.forceShutdown();
  });
  return client;
}

const check = (client: Client, service: string) =>
  new Promise<{ status?: string; code?: number }>((resolve) =>
    client.Check({ service }, (err, res) => resolve(err ? { code: err.code } : { status: res?.status })),
  );

it("answers Check with each service's status, the default status too, and NOT_FOUND for an unknown one", async () => {
  const board = new HealthStatusBoard({ "": "SERVING", "wharf.worker.v1.Worker": "SERVING" });
  const client = await serve(board);
  expect(await check(client, "")).toEqual({ status: "SERVING" });
  expect(await check(client, "wharf.worker.v1.Worker")).toEqual({ status: "SERVING" });
  expect(await check(client, "nope")).toEqual({ code: grpc.status.NOT_FOUND });
  board.setStatus("wharf.worker.v1.Worker", "NOT_SERVING");
  expect(await check(client, "wharf.worker.v1.Worker")).toEqual({ status: "NOT_SERVING" });
  // UNKNOWN is the proto default: sent as an empty message, read back as UNKNOWN.
  board.setStatus("", "UNKNOWN");
  expect(await check(client, "")).toEqual({ status: "UNKNOWN" });
});

it("streams status changes to Watch, starting with SERVICE_UNKNOWN for a service not known yet", async () => {
  const board = new HealthStatusBoard({ "": "SERVING" });
  const client = await serve(board);
  const seen: string[] = [];
  const call = client.Watch({ service: "later" });
  call.on("data", (m: { status: string }) => seen.push(m.status));
  call.on("error", () => {});
  await expect.poll(() => seen).toEqual(["SERVICE_UNKNOWN"]);
  board.setStatus("later", "SERVING");
  board.setStatus("later", "SERVING"); // unchanged: not sent again
  board.setStatus("later", "NOT_SERVING");
  await expect.poll(() => seen).toEqual(["SERVICE_UNKNOWN", "SERVING", "NOT_SERVING"]);
  const ended = new Promise((r) => call.on("end", r));
  board.endWatches();
  await ended;
});
