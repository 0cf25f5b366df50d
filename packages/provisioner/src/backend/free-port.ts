import net from "node:net";

/**
 * A port nothing listens on right now. The worker binds it a moment later; the
 * small window for a clash is accepted (the worker then fails to start and the
 * build is reported lost rather than hanging).
 */
export async function freePort(host = "127.0.0.1"): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on("error", reject);
    srv.listen(0, host, () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}
