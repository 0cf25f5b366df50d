import http from "node:http";
import type { AddressInfo } from "node:net";

/**
 * Lets the test hold a build step until it decides: the step polls the gate's URL
 * (step containers use host networking) and goes on once the test called `open()`.
 * This synchronises on a condition instead of a sleep.
 */
export interface StepGate {
  /** Shell lines for a step: wait (bounded, at most `maxSeconds`) until the gate opens, else exit 1. */
  waitCommand(maxSeconds?: number): string;
  open(): void;
  close(): Promise<void>;
}

export async function startStepGate(): Promise<StepGate> {
  let open = false;
  const server = http.createServer((_req, res) => {
    res.writeHead(open ? 200 : 503).end(open ? "open" : "closed");
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  return {
    waitCommand: (maxSeconds = 90) =>
      `i=0; until wget -q -O /dev/null ${url}; do i=$((i+1)); [ $i -le ${maxSeconds * 10} ] || exit 1; usleep 100000; done`,
    open: () => {
      open = true;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
