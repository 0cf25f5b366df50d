import os from "node:os";
import type Docker from "dockerode";
import { isAlreadyDone } from "./container-step.js";
import { DEFAULT_HELPER_IMAGE, ensureHelperImage } from "./workspace-volume.js";

/**
 * One janitor at a time per engine, without Postgres: the lock is a container the engine
 * holds, created (never started) under a fixed name. Creating a container by name is atomic
 * in Docker and Podman — the second create of a name fails with 409 — where a volume create
 * is idempotent (it returns the existing volume) and Docker lets two networks share a name.
 *
 * A janitor that dies leaves its lock behind, so a lock older than `staleMs` is broken: it is
 * removed by its id, not its name, so two janitors that both see the same stale lock cannot
 * remove each other's fresh one; the create that follows decides between them.
 */
export const JANITOR_LOCK_NAME = "wharf-janitor-lock";
/** On the lock container: who holds it (host and pid), for the message of the janitor turned away. */
export const JANITOR_LOCK_HOLDER_LABEL = "wharf.iver.com/janitor-holder";

export interface JanitorLockOptions {
  name?: string;
  /** A lock older than this is taken for the leftover of a janitor that died. */
  staleMs: number;
}

export interface JanitorLock {
  release(): Promise<void>;
}

/** Another janitor holds the engine's lock. */
export class JanitorBusyError extends Error {
  override readonly name = "JanitorBusyError";
  constructor(
    readonly holder: string,
    readonly since: Date,
  ) {
    super(`the engine is being cleaned by another janitor (${holder}, since ${since.toISOString()})`);
  }
}

export async function acquireJanitorLock(docker: Docker, opts: JanitorLockOptions): Promise<JanitorLock> {
  const name = opts.name ?? JANITOR_LOCK_NAME;
  await ensureHelperImage(docker, DEFAULT_HELPER_IMAGE, "/workspace");
  const create = () =>
    docker.createContainer({
      name,
      Image: DEFAULT_HELPER_IMAGE,
      Cmd: ["/wharf-janitor-lock-is-never-started"],
      Labels: { [JANITOR_LOCK_HOLDER_LABEL]: `${os.hostname()}:${process.pid}` },
      NetworkDisabled: true,
      HostConfig: { NetworkMode: "none" },
    });
  for (let attempt = 0; ; attempt++) {
    try {
      const held = await create();
      return {
        release: () =>
          held.remove({ force: true }).catch((err: unknown) => {
            if (!isAlreadyDone(err)) throw err;
          }),
      };
    } catch (err) {
      if (!isNameTaken(err)) throw err;
    }
    const current = await docker
      .getContainer(name)
      .inspect()
      .catch((err: unknown) => {
        if ((err as { statusCode?: number }).statusCode === 404) return undefined;
        throw err;
      });
    if (current === undefined) {
      // Released between our create and our look: try again, a few times.
      if (attempt < 3) continue;
      throw new JanitorBusyError("unknown", new Date());
    }
    const since = new Date(current.Created);
    const holder = current.Config.Labels?.[JANITOR_LOCK_HOLDER_LABEL] ?? "unknown";
    if (attempt > 0 || Date.now() - since.getTime() < opts.staleMs) throw new JanitorBusyError(holder, since);
    await docker
      .getContainer(current.Id)
      .remove({ force: true })
      .catch((err: unknown) => {
        if (!isAlreadyDone(err)) throw err;
      });
  }
}

/** Docker answers 409 to a taken name; some Podman versions 500 with "already in use". */
function isNameTaken(err: unknown): boolean {
  const e = err as { statusCode?: number; message?: string };
  return e.statusCode === 409 || (e.statusCode === 500 && /already in use/i.test(e.message ?? ""));
}
