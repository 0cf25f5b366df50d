/**
 * The provisioner → standby worker contract. A standby worker is `wharf worker serve --standby`,
 * started by the local or Docker backend before any build needs it, with no build in its
 * environment: it loads the worker's modules and then waits on stdin for one assignment, a JSON
 * line holding the environment a cold worker of that build would have been started with
 * (`toWorkerEnv`'s keys) and, for a process, its working directory. From then on it is that
 * build's worker. Its stdin ending before a line (the provisioner went away) ends it. The
 * listen ports its environment names already (a container's, labelled with them) it holds
 * from its start until it serves on them.
 *
 * Why: starting Node and loading the worker's modules is most of a local build's wait for its
 * first line (BENCHMARKS.md, "trigger to first line"); a standby pays it before the trigger.
 * The build's env, GIT_TOKEN included, reaches the worker through the pipe, so it is not in the
 * process's /proc environ either.
 */
export const STANDBY_FLAG = "--standby";

/**
 * Set in a standby's environment (a random id): how a restarted provisioner recognises the
 * process of a worker that began as a standby, whose environ has no worker id.
 */
export const STANDBY_ID_ENV = "WHARF_STANDBY_ID";

export interface StandbyAssignment {
  /** The worker's directory (a cold worker's cwd); none: where it was started (a container's). */
  cwd?: string;
  env: Record<string, string>;
}

export class StandbyAssignmentError extends Error {
  override readonly name = "StandbyAssignmentError";
}

export function encodeStandbyAssignment(assignment: StandbyAssignment): string {
  return `${JSON.stringify(assignment)}\n`;
}

/** The first line of `input` as an assignment; null when it ends before a whole line. */
export async function readStandbyAssignment(
  input: AsyncIterable<Buffer | string>,
): Promise<StandbyAssignment | null> {
  let text = "";
  for await (const chunk of input) {
    text += typeof chunk === "string" ? chunk : chunk.toString("utf8");
    const end = text.indexOf("\n");
    if (end >= 0) return parseAssignment(text.slice(0, end));
  }
  return null;
}

function parseAssignment(line: string): StandbyAssignment {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    throw new StandbyAssignmentError("the standby assignment is not JSON");
  }
  const a = value as Partial<StandbyAssignment> | null;
  const envOk =
    typeof a?.env === "object" && a.env !== null && Object.values(a.env).every((v) => typeof v === "string");
  if ((a?.cwd !== undefined && typeof a.cwd !== "string") || !envOk) {
    throw new StandbyAssignmentError(
      "the standby assignment needs an env of strings and no cwd but a string",
    );
  }
  return { ...(a?.cwd !== undefined ? { cwd: a.cwd } : {}), env: a?.env as Record<string, string> };
}
