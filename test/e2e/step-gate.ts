import { execFile } from "node:child_process";
import { promisify } from "node:util";

const run = promisify(execFile);
const GATE_FILE = "/tmp/wharf-step-gate-open";

/**
 * Lets the test hold a build step until it decides: the step waits for a file in its own
 * container, and `open()` creates it there with `docker exec`. Steps run on their build's
 * own network and cannot reach the test process; this synchronises on a condition, not a sleep.
 */
export interface StepGate {
  /** Shell lines for a step: wait (bounded, at most `maxSeconds`) until the gate opens, else exit 1. */
  waitCommand(maxSeconds?: number): string;
  /** Opens the gate in every running container carrying `label` (e.g. a worker's id label). */
  open(label: string, content?: string): Promise<void>;
  /** The gate file's path inside the step: `open`'s content can be read from it. */
  readonly file: string;
}

export function stepGate(): StepGate {
  return {
    waitCommand: (maxSeconds = 90) =>
      `i=0; until [ -e ${GATE_FILE} ]; do i=$((i+1)); [ $i -le ${maxSeconds * 10} ] || exit 1; usleep 100000; done`,
    file: GATE_FILE,
    async open(label, content = "") {
      const { stdout } = await run("docker", ["ps", "-q", "--filter", `label=${label}`]);
      const ids = stdout.split("\n").filter(Boolean);
      if (ids.length === 0) throw new Error(`no running container labelled ${label} to open the gate in`);
      const write = [
        "sh",
        "-c",
        `printf %s "$1" > ${GATE_FILE}.tmp && mv ${GATE_FILE}.tmp ${GATE_FILE}`,
        "_",
        content,
      ];
      // Worker containers match the label too; a file in their /tmp changes nothing.
      await Promise.all(ids.map((id) => run("docker", ["exec", id, ...write]).catch(() => undefined)));
    },
  };
}
