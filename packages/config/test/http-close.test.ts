import http from "node:http";
import type { AddressInfo } from "node:net";
import Fastify from "fastify";
import { afterEach, describe, expect, it } from "vitest";
import { closeConnectionsWhenClosing } from "../src/http-close.js";

const agent = new http.Agent({ keepAlive: true });
afterEach(() => agent.destroy());

/** GET over a kept-alive connection; resolves with the status and the Connection header. */
function get(port: number, path: string): Promise<{ status: number; connection: string | undefined }> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: "127.0.0.1", port, path, agent }, (res) => {
        res.resume();
        res.on("end", () => resolve({ status: res.statusCode ?? 0, connection: res.headers.connection }));
      })
      .on("error", reject);
  });
}

async function appWithSlowRoute(withFix: boolean) {
  const app = Fastify({ logger: false });
  if (withFix) closeConnectionsWhenClosing(app);
  let entered: () => void = () => {};
  const inHandler = new Promise<void>((r) => {
    entered = r;
  });
  app.get("/slow", async () => {
    entered();
    await new Promise((r) => setTimeout(r, 300));
    return { ok: true };
  });
  app.get("/fast", async () => ({ ok: true }));
  await app.listen({ host: "127.0.0.1", port: 0 });
  return { app, port: (app.server.address() as AddressInfo).port, inHandler };
}

describe("closeConnectionsWhenClosing", () => {
  it("lets close() finish once a request in flight is answered, not after the 72 s keep-alive", async () => {
    const { app, port, inHandler } = await appWithSlowRoute(true);
    expect((await get(port, "/fast")).connection).toBe("keep-alive");
    const slow = get(port, "/slow");
    await inHandler;
    const started = Date.now();
    const closed = app.close();
    // The request in flight is still answered, and told the connection ends.
    expect(await slow).toEqual({ status: 200, connection: "close" });
    await closed;
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it("is needed: without it the kept-alive connection holds close() past the answer", async () => {
    const { app, port, inHandler } = await appWithSlowRoute(false);
    const slow = get(port, "/slow");
    await inHandler;
    let done = false;
    const closed = app.close().then(() => {
      done = true;
    });
    expect((await slow).connection).toBe("keep-alive");
    await new Promise((r) => setTimeout(r, 1000));
    expect(done).toBe(false);
    agent.destroy(); // the client hangs up: only then does close() finish
    await closed;
  });
});
