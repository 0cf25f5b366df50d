import fs from "node:fs/promises";
import os from "node:os";

/**
 * Which executor process made a sandbox or container: `host@pidns/pid/start`, where pidns is
 * the inode of the process's PID namespace and start its start time in clock ticks since boot
 * (/proc/<pid>/stat field 22), so a pid reused by another process after a crash does not pass
 * for the owner. The CRI runtime and its workers share a host (the workspace and the logs are
 * host directories), so a later executor on that host and in that PID namespace can tell
 * whether the owner is still alive and remove what a killed worker left. A pid means nothing
 * in another namespace: worker containers with one of their own (each its PID 1) would take
 * each other for dead, so they never judge each other (the docker backend runs cri workers
 * in the host's).
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

/** This host and PID namespace, `host@inode`; "?" for the inode when /proc does not tell it. */
async function pidScope(): Promise<string> {
  const link = await fs.readlink("/proc/self/ns/pid").catch(() => "");
  return `${os.hostname()}@${/\[(\d+)\]/.exec(link)?.[1] ?? "?"}`;
}

export async function ownerValue(): Promise<string> {
  return `${await pidScope()}/${process.pid}/${(await processStart(process.pid)) ?? "0"}`;
}

/**
 * False only when the owner is known dead: it ran on this host, in this PID namespace, and
 * its pid is gone or now another process. An owner on another host (a shared runtime) or in
 * another PID namespace, an unknown namespace or an unreadable label counts as alive: never
 * remove what might still be in use.
 */
export async function ownerAlive(value: string | undefined): Promise<boolean> {
  const m = value ? /^(.+)\/(\d+)\/(\d+)$/.exec(value) : null;
  const scope = await pidScope();
  if (!m || m[1] !== scope || scope.endsWith("@?")) return true;
  return (await processStart(Number(m[2]))) === m[3];
}
