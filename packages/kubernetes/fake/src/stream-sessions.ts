import net from "node:net";
import type { WebSocket } from "ws";
import type { FakeKubelet } from "./kubelet.js";
import type { KubeObject } from "./object-store.js";

// Channel numbers of the k8s channel protocols (v4/v5.channel.k8s.io).
const STDIN = 0;
const STDOUT = 1;
const STDERR = 2;
const STATUS = 3;
const CLOSE = 255;

const frame = (channel: number, data: Buffer | string) =>
  Buffer.concat([Buffer.from([channel]), Buffer.from(data)]);

/**
 * `pods/{name}/exec` over WebSocket: the command runs in the container's sandbox (its env
 * and mounts); stdin on channel 0, stdout 1, stderr 2, and the final `Status` on channel 3
 * before the server closes the socket. Only `v5.channel.k8s.io` can close stdin alone (a
 * [255, 0] frame); on `v4.channel.k8s.io` such a frame is ignored, as the API server's
 * wsstream ignores frames for channels it does not have, and a client that closes the
 * socket to signal EOF gets no Status: the command is killed.
 */
export function runExecSession(ws: WebSocket, kubelet: FakeKubelet, pod: KubeObject, url: URL): void {
  const command = url.searchParams.getAll("command");
  const containerName = url.searchParams.get("container") ?? pod.spec.containers[0]?.name;
  const container = pod.spec.containers.find((c: { name: string }) => c.name === containerName);
  const sandbox = kubelet.sandbox(pod.metadata.uid!);
  const fail = (message: string) => {
    ws.send(
      frame(
        STATUS,
        JSON.stringify({ metadata: {}, status: "Failure", message, reason: "InternalError", code: 500 }),
      ),
    );
    ws.close(1000);
  };
  if (!container || !sandbox) {
    fail(`container ${containerName} not found in pod ${pod.metadata.name}`);
    return;
  }
  if (command.length === 0) {
    fail("you must specify at least 1 command");
    return;
  }
  let child: ReturnType<typeof sandbox.spawn>;
  try {
    child = sandbox.spawn(container, command);
  } catch (err) {
    fail((err as Error).message);
    return;
  }
  child.stdout?.on("data", (d: Buffer) => ws.send(frame(STDOUT, d)));
  child.stderr?.on("data", (d: Buffer) => ws.send(frame(STDERR, d)));
  child.stdin?.on("error", () => {}); // the command may exit before reading all of stdin
  if (url.searchParams.get("stdin") !== "true") child.stdin?.end();
  ws.on("message", (data: Buffer) => {
    if (data[0] === STDIN) child.stdin?.write(data.subarray(1));
    else if (data[0] === CLOSE && data[1] === STDIN && ws.protocol === "v5.channel.k8s.io")
      child.stdin?.end();
  });
  ws.on("close", () => {
    child.stdin?.end();
    if (child.exitCode === null && child.pid) {
      try {
        process.kill(-child.pid, "SIGKILL");
      } catch {
        // already gone
      }
    }
  });
  child.once("error", (err) => fail(`exec failed: ${err.message}`));
  child.once("close", (code) => {
    if (ws.readyState !== ws.OPEN) return;
    const status =
      code === 0
        ? { metadata: {}, status: "Success" }
        : {
            metadata: {},
            status: "Failure",
            message: `command terminated with non-zero exit code: exit status ${code}`,
            reason: "NonZeroExitCode",
            details: { causes: [{ reason: "ExitCode", message: String(code) }] },
          };
    ws.send(frame(STATUS, JSON.stringify(status)));
    ws.close(1000);
  });
}

/**
 * `pods/{name}/portforward?ports=N` over WebSocket (v4.channel.k8s.io): port i uses data
 * channel 2i and error channel 2i+1; the server's first frame on each channel carries the
 * port as two little-endian bytes. Pod processes share the host network, so the target
 * is 127.0.0.1:N.
 */
export function runPortForwardSession(ws: WebSocket, ports: number[]): void {
  const sockets = ports.map((port, i) => {
    const prefix = Buffer.alloc(2);
    prefix.writeUInt16LE(port);
    ws.send(frame(2 * i, prefix));
    ws.send(frame(2 * i + 1, prefix));
    const socket = net.connect(port, "127.0.0.1");
    socket.on("data", (d) => ws.send(frame(2 * i, d)));
    socket.on("error", (err) => {
      if (ws.readyState === ws.OPEN) {
        ws.send(frame(2 * i + 1, `error forwarding port ${port} to pod: ${err.message}`));
        ws.close(1000);
      }
    });
    socket.on("close", () => ws.readyState === ws.OPEN && ws.close(1000));
    return socket;
  });
  ws.on("message", (data: Buffer) => {
    const channel = data[0]!;
    if (channel % 2 === 0) sockets[channel / 2]?.write(data.subarray(1));
  });
  ws.on("close", () => {
    for (const s of sockets) s.end();
  });
}
