import type { FastifyInstance } from "fastify";

/**
 * Makes a fastify app's close() end kept-alive client connections once their
 * request in flight is answered. Node closes idle connections when a server
 * closes, but a connection busy with a request then, once answered, stays open
 * until fastify's keepAliveTimeout (72 s), and close() waits for it: a
 * provisioner stopping during an aggregator's DELETE took ~70 s to exit. From
 * the moment the app starts closing, every answer carries `Connection: close`,
 * so Node ends the connection right after it.
 */
export function closeConnectionsWhenClosing(app: FastifyInstance): void {
  let closing = false;
  app.addHook("preClose", async () => {
    closing = true;
  });
  app.addHook("onSend", async (_req, reply, payload) => {
    if (closing) reply.header("connection", "close");
    return payload;
  });
}
