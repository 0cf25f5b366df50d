import fs from "node:fs/promises";
import os from "node:os";

/**
 * Which executor process made a sandbox or container: `host/pid/start`, where start is the
 * process's start time in clock ticks since boot (/proc/<pid>/stat field 22), so a pid reused
 * by another process after a crash does not pass for the owner. The CRI runtime and its
 * workers share a host (the workspace and the logs are host directories), so a later executor
 * on that host can tell whether the owner is still alive and remove what a killed worker left.
 */
export const LABEL_OWNER = "wharf.iver.com/cri-owner";

/** The start time of process `pid`, or undefined when there is no such process. */
export async function processStart(pid: number): Promise<string | undefined> {
  try {
    const stat = await fs.readFile(`/proc/${pid}/stat`, "utf8");
    // The command name (field 2) may hold spaces and parentheses: count from its closing ")".
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return fields[19];
  } catch {
    return undefined;
  }
}

export async function ownerValue(): Promise<string> {
  return `${os.hostname()}/${process.pid}/${(await processStart(process.pid)) ?? "0"}`;
}

/**
 * False only when the owner is known dead: it ran on this host and its pid is gone or now
 * another process. An owner on another host (a shared runtime) or an unreadable label counts
 * as alive: never remove what might still be in use.
 */
export async function ownerAlive(value: string | undefined): Promise<boolean> {
  const m = value ? /^(.+)\/(\d+)\/(\d+)$/.exec(value) : null;
  if (!m || m[1] !== os.hostname()) return true;
  return (await processStart(Number(m[2]))) === m[3];
}
