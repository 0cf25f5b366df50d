import net from "node:net";
import { createLogger } from "@wharf/config";
import { loadWorkerProto } from "@wharf/proto";
import { WORKER_ENV } from "@wharf/proto/worker-env";
import { readStandbyAssignment } from "@wharf/proto/worker-standby";
import { preloadExecutor } from "./executor-factory.js";

/**
 * A standby worker (`wharf worker serve --standby`, see @wharf/proto/worker-standby): loads
 * what a worker loads between start and its first line while no build waits, then takes its
 * build from stdin and makes it this process's own (cwd and environment), exactly as if it had
 * been started with it. Exits 0 if stdin ends first (its provisioner went away).
 */
export async function awaitStandbyAssignment(): Promise<void> {
  const reserved = await reservePorts(process.env);
  const [assignment] = await Promise.all([
    readStandbyAssignment(process.stdin).catch((err: Error) => {
      createLogger("worker").error({ err: err.message }, "standby worker: unreadable assignment");
      process.exit(1);
    }),
    preloadWorkerModules(),
  ]);
  if (!assignment) process.exit(0);
  await reserved.release();
  if (assignment.cwd !== undefined) process.chdir(assignment.cwd);
  Object.assign(process.env, assignment.env);
}

/**
 * Listens on the ports a standby container was labelled with (its environment names them) until
 * its build comes and the worker binds them itself: another process taking one meanwhile would
 * fail the build. A port already taken ends the standby (exit 1): the provisioner then starts
 * that build's worker cold. A standby process has none; it is given ports with its build.
 */
async function reservePorts(env: NodeJS.ProcessEnv): Promise<{ release(): Promise<void> }> {
  const host = env[WORKER_ENV.host];
  const ports = [env[WORKER_ENV.port], env[WORKER_ENV.httpPort]].filter((p) => p && Number(p) > 0);
  const servers = await Promise.all(
    ports.map(
      (port) =>
        new Promise<net.Server>((resolve) => {
          const server = net.createServer((socket) => socket.destroy());
          server.once("error", (err) => {
            createLogger("worker").error({ err: err.message, port }, "standby worker: port taken");
            process.exit(1);
          });
          server.listen({ port: Number(port), ...(host ? { host } : {}) }, () => resolve(server));
        }),
    ),
  );
  return {
    release: () => Promise.all(servers.map((s) => new Promise((r) => s.close(() => r(null))))).then(() => {}),
  };
}

// The modules serveWorker and startWorker import once the build is known (main.ts's static
// imports, gRPC and the result store among them, are loaded with this file already), and the
// parse of the worker's .proto its gRPC server needs.
function preloadWorkerModules(): Promise<unknown> {
  loadWorkerProto();
  return Promise.all([
    import("@wharf/tracing"),
    import("./provisioner-events.js"),
    import("./checkout.js"),
    import("./plan-build.js"),
    import("@wharf/engine"),
    preloadExecutor(process.env[WORKER_ENV.executor]),
  ]);
}
