import net from "node:net";
import { Writable } from "node:stream";
import { type KubeConfig, PortForward } from "@kubernetes/client-node";
import type { Logger } from "@wharf/config";

export interface PortForwardTarget {
  namespace: string;
  pod: string;
  port: number;
}

interface ClosableSocket {
  close(): void;
  addEventListener?(event: "close", listener: () => void): void;
  on?(event: "close", listener: () => void): void;
}

/**
 * A TCP listener on 127.0.0.1 whose every connection is bridged to one pod port through
 * the API server's `pods/portforward` (a WebSocket per connection, like
 * `kubectl port-forward`). The aggregator dials this address as if it were the worker,
 * so nothing in the build cluster ever connects out to it.
 */
export class PortForwardListener {
  private readonly sockets = new Set<net.Socket>();
  private readonly forward: PortForward;

  private constructor(
    private readonly server: net.Server,
    kubeConfig: KubeConfig,
    readonly target: PortForwardTarget,
    private readonly log?: Logger,
  ) {
    this.forward = new PortForward(kubeConfig);
    server.on("connection", (socket) => this.bridge(socket));
  }

  static async open(
    kubeConfig: KubeConfig,
    target: PortForwardTarget,
    log?: Logger,
  ): Promise<PortForwardListener> {
    const server = net.createServer({ pauseOnConnect: true });
    const listener = new PortForwardListener(server, kubeConfig, target, log);
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(0, "127.0.0.1", () => resolve());
    });
    server.unref();
    return listener;
  }

  /** `127.0.0.1:<port>` to dial. */
  get address(): string {
    return `127.0.0.1:${(this.server.address() as net.AddressInfo).port}`;
  }

  private bridge(socket: net.Socket): void {
    this.sockets.add(socket);
    socket.once("close", () => this.sockets.delete(socket));
    socket.on("error", () => socket.destroy());
    const { namespace, pod, port } = this.target;
    // The API server reports a refused pod port on the error channel, then closes.
    let remoteError = "";
    const errors = new Writable({
      write(chunk, _enc, done) {
        remoteError += String(chunk);
        done();
      },
    });
    this.forward
      .portForward(namespace, pod, [port], socket, errors, socket)
      .then((ws) => {
        const ws0 = ws as unknown as ClosableSocket;
        const onClose = () => {
          if (remoteError) this.log?.debug({ pod, port, err: remoteError }, "port-forward error");
          socket.end();
        };
        if (ws0.on) ws0.on("close", onClose);
        else ws0.addEventListener?.("close", onClose);
        socket.once("close", () => ws0.close());
        if (socket.destroyed) ws0.close();
        else socket.resume();
      })
      .catch((err: unknown) => {
        this.log?.debug({ pod, port, err: String(err) }, "port-forward refused");
        socket.destroy();
      });
  }

  /** Stops listening and cuts every bridged connection. */
  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
