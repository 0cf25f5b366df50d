import net from "node:net";

/**
 * Sends `text` to host:port and resolves with what comes back before the peer stops sending:
 * the check that a forwarded port (port-forward, pod IP) really reaches an echo server.
 */
export function echoThrough(address: string, text: string): Promise<string> {
  const [host, port] = address.split(":");
  return new Promise((resolve, reject) => {
    const socket = net.connect(Number(port), host);
    let got = "";
    socket.on("data", (d) => {
      got += d.toString();
      if (got.length >= text.length) {
        socket.end();
        resolve(got);
      }
    });
    socket.on("error", reject);
    socket.on("close", () => resolve(got));
    socket.write(text);
  });
}
