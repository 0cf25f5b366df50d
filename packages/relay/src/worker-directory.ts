import type { Logger } from "@wharf/config";
import { workerTokenFor } from "@wharf/proto";
import { type BuildId, BuildIdError, checkBuildId, parseBuildId } from "@wharf/proto/build-id";

/** Lifecycle of a worker as a directory reports it, normalised across backends. */
export type WorkerState = "queued" | "starting" | "running" | "finished" | "failed" | "unknown";

export interface LiveWorker {
  workerId: string;
  /** wharf-api's build id. */
  buildId: BuildId;
  /** host:port of the worker's gRPC; null while it has none (queued, failed to start). */
  address: string | null;
  status: WorkerState;
  /** Why a failed worker failed, when the backend knows (stuck image pull, crash, deleted). */
  message?: string;
  /** The worker's own gRPC token, when the directory hands it out (the provisioner's list). */
  token?: string;
  /** wharf-api instance of the build, when the directory knows it. */
  instance?: string;
  /**
   * When wharf-api triggered the build (ms since the epoch, the directory's clock), when the
   * directory knows it (the provisioner's list: `createdAt`): what the first-line latency is
   * measured from.
   */
  triggeredAt?: number;
}

/**
 * The bearer token to call `w` with: the one its directory handed out, else the one derived
 * from the shared key (WHARF_WORKER_TOKEN), else none (a worker that requires none).
 */
export function workerTokenOf(w: Pick<LiveWorker, "workerId" | "token">, key?: string): string | undefined {
  return w.token ?? (key ? workerTokenFor(key, w.workerId) : undefined);
}

/**
 * Where the aggregator and the watchdog learn which workers exist. One
 * implementation per backend (provisioner HTTP, Docker labels, Kubernetes);
 * they poll or watch, the aggregator only calls `list` every second or so.
 */
/** A relayed build's end, in the provisioner's words. */
export type WorkerOutcome = "Success" | "Failed" | "Cancelled";

export interface WorkerDirectory {
  readonly kind: string;
  list(signal?: AbortSignal): Promise<LiveWorker[]>;
  /**
   * Stops and removes the worker; succeeds when it is already gone. `outcome`: how its build
   * ended, as relayed (a directory that keeps records, the provisioner's, keeps it).
   */
  remove(workerId: string, signal?: AbortSignal, outcome?: WorkerOutcome): Promise<void>;
  /**
   * Resolves when `list` may answer differently (a watch); rejects on errors. Optional: a
   * directory without it is polled at the discovery interval only.
   */
  changed?(signal: AbortSignal): Promise<void>;
  /**
   * Which of these builds had a worker from this engine at some time (also one removed since).
   * The watchdog fails only such builds; a directory that cannot tell leaves this out, and the
   * watchdog then trusts only workers it saw itself.
   */
  startedBuilds?(buildIds: BuildId[], signal?: AbortSignal): Promise<Set<BuildId>>;
  close?(): Promise<void> | void;
}

export class WorkerDirectoryError extends Error {
  override readonly name = "WorkerDirectoryError";
}

/**
 * A directory's build id of a worker: text from a label, a number from the provisioner's JSON.
 * A worker without a valid one (a container labelled by hand, a row stored before ids were
 * checked) is left out of the list: no relay could report its build to wharf-api, and the
 * watchdog must not remove what it cannot tell is ours. Said once per worker, with the reason.
 */
export class ListedBuildIds {
  private readonly told = new Set<string>();

  constructor(
    /** Where the id comes from, for the message: "label wharf.iver.com/build-ref", … */
    private readonly what: string,
    private readonly log?: Logger,
  ) {}

  /** From a label's text (Docker, Kubernetes). */
  fromText(workerId: string, text: string): BuildId | undefined {
    return this.read(workerId, () => parseBuildId(text, this.what));
  }

  /** From JSON (the provisioner's list): a number, as its schema says. */
  fromJson(workerId: string, value: unknown): BuildId | undefined {
    return this.read(workerId, () => checkBuildId(value, this.what));
  }

  private read(workerId: string, parse: () => BuildId): BuildId | undefined {
    try {
      return parse();
    } catch (err) {
      if (!(err instanceof BuildIdError)) throw err;
      if (!this.told.has(workerId)) {
        this.told.add(workerId);
        this.log?.warn({ workerId, err: err.message }, "worker left out: it names no wharf-api build");
      }
      return undefined;
    }
  }
}

const stateWords: [RegExp, WorkerState][] = [
  [/^(queued|waiting)$/, "queued"],
  [/^(starting|scheduled|scheduling|pending|creating|created|initializing)$/, "starting"],
  [/^(running|started)$/, "running"],
  [/^(finished|completed|succeeded|success|done|stopped|exited|released)$/, "finished"],
  [/^(failed|failure|error|errored|crashed|dead|lost)$/, "failed"],
];

/** Maps a backend's status word (any case) onto a WorkerState. */
export function workerStateOf(word: string | null | undefined): WorkerState {
  const w = (word ?? "").toLowerCase();
  for (const [re, state] of stateWords) if (re.test(w)) return state;
  return "unknown";
}
