// TCP proxy for the `kubernetes` Service address: listens on the pods' bridge address (the
// Service's ClusterIP) and forwards each connection to the API server on loopback. Pods reach the
// API server this way without kube-proxy, and the API server itself listens on 127.0.0.1 only.
// usage: node apiserver-proxy.mjs <listen-host> <listen-port> <target-host> <target-port>
import net from "node:net";

const [host, port, targetHost, targetPort] = process.argv.slice(2);
const server = net.createServer((client) => {
  const upstream = net.connect(Number(targetPort), targetHost);
  client.pipe(upstream).pipe(client);
  const close = () => {
    client.destroy();
    upstream.destroy();
  };
  client.on("error", close);
  upstream.on("error", close);
});
server.listen(Number(port), host, () => console.log(`proxy ${host}:${port} -> ${targetHost}:${targetPort}`));
for (const s of ["SIGTERM", "SIGINT"]) process.on(s, () => process.exit(0));
