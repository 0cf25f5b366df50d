import http from "node:http";
import type { Duplex } from "node:stream";
import type Docker from "dockerode";

/** The engine's unix socket a client talks to; undefined for TCP (attachStdin needs the socket). */
export function engineSocketPath(docker: Docker): string | undefined {
  const socketPath = (docker.modem as { socketPath?: unknown }).socketPath;
  return typeof socketPath === "string" ? socketPath : undefined;
}

const ATTACH_TIMEOUT_MS = 10_000;

/**
 * The container's stdin alone (created with OpenStdin and StdinOnce), as the one attach its
 * stdin closes after: a POST that asks to upgrade the connection, with an empty body. Used for
 * what a container is told after it started (a standby worker's build, a step's go).
 * Hand-written, not dockerode's attach: that sends its options as the request's body too (or,
 * with none, never sends the request while stdin stays open), and Podman 4.3 hands a body to
 * the container as the first bytes of its stdin (seen).
 */
export function attachStdin(socketPath: string, containerId: string): Promise<Duplex> {
  return new Promise<Duplex>((resolve, reject) => {
    const req = http.request({
      socketPath,
      method: "POST",
      path: `/containers/${encodeURIComponent(containerId)}/attach?stream=1&stdin=1&stdout=0&stderr=0`,
      headers: { Connection: "Upgrade", Upgrade: "tcp", "Content-Length": "0" },
    });
    // The engine answers at once; a hung call would hold a container that can never go on.
    // A timer, not the socket's idle timeout: the socket is the container's stdin afterwards.
    const timer = setTimeout(
      () => req.destroy(new Error("attaching to the container's stdin timed out")),
      ATTACH_TIMEOUT_MS,
    );
    req.once("upgrade", (_res, socket, head) => {
      clearTimeout(timer);
      if (head.length > 0) socket.unshift(head);
      resolve(socket);
    });
    req.once("response", (res) => {
      clearTimeout(timer);
      res.resume();
      reject(new Error(`attaching to the container's stdin: HTTP ${res.statusCode}`));
    });
    req.once("error", (err) => {
      clearTimeout(timer);
      reject(err);
    });
    req.end();
  });
}
