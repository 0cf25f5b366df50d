import { randomBytes } from "node:crypto";

/**
 * How a step pod's output reaches the worker without the kubelet's log endpoint.
 *
 * The kubelet's `pods/log` can lose a log's end (the runtime's log file cut at a page
 * boundary), merges stdout with stderr and mixes its own error text into the body. So a
 * step pod writes its stdout, stderr and exit code to files on the build's claim, and the
 * worker reads them through the workspace pod (which holds the same claim for the whole
 * build) from byte offsets it keeps itself: a reader whose connection breaks is started
 * again from the offsets already received, losing and repeating nothing.
 *
 * Both sides of that file contract are here: the step's wrapper command and the reader.
 */

/** Where the claim's `step-output` directory is mounted, in step pods and the workspace pod. */
export const STEP_OUTPUT_PATH = "/wharf-step-output";
/** The claim's directories: the workspace the steps share, and the steps' captured output. */
export const WORKSPACE_SUBPATH = "workspace";
export const STEP_OUTPUT_SUBPATH = "step-output";

/** How often the reader looks for new output; the added latency of a line. */
const READ_INTERVAL_SECONDS = "0.05";

/** A name for one step start's files, unique within the build (a retried step gets new ones). */
export function stepOutputKey(stepId: number): string {
  return `step-${stepId}-${randomBytes(4).toString("hex")}`;
}

const file = (key: string, suffix: "out" | "err" | "exit") => `${STEP_OUTPUT_PATH}/${key}.${suffix}`;

/**
 * The step container's command: `[shell, "-c", script]` run by a shell (PID 1) that sends
 * the script's stdout and stderr to the output files and writes the exit code last. The
 * script itself runs unchanged in its own `shell -c` (its `$1`, `exit` and traps behave as
 * before); SIGTERM from a pod deletion is passed on to it, so a stopped step ends with 143
 * and its exit file is still written.
 */
export function captureStepOutput(command: string[], key: string): string[] {
  const [shell, flag, script, ...rest] = command;
  if (!shell || flag !== "-c" || script === undefined || rest.length > 0) {
    throw new Error(`a step command must be [shell, "-c", script], not ${JSON.stringify(command)}`);
  }
  const wrapper = [
    `trap 'kill -TERM $p 2>/dev/null' TERM INT`,
    `"$0" -c "$1" >${file(key, "out")} 2>${file(key, "err")} </dev/null & p=$!`,
    // `wait` returns early (>128) when a trapped signal arrives: wait until the script ended.
    "wait $p; c=$?",
    "while kill -0 $p 2>/dev/null; do wait $p; c=$?; done",
    `echo $c >${file(key, "exit")}`,
    "exit $c",
  ].join("\n");
  return [shell, "-c", wrapper, shell, script];
}

/**
 * A command for the workspace pod that writes the step's stdout file to its stdout and
 * its stderr file to its stderr, starting at the given byte offsets, following both until
 * the exit file exists, then the rest, and ends with status 0. `tail -c +N | head -c M`
 * copies exactly the bytes between two sizes, so a file that grows meanwhile is read again
 * from where this copy stopped. Only POSIX sh, stat, tail, head and sleep (busybox has them).
 */
export function readStepOutputCommand(key: string, offsets: { stdout: number; stderr: number }): string[] {
  const script = [
    `o=${Math.trunc(offsets.stdout)}; e=${Math.trunc(offsets.stderr)}`,
    `size() { stat -c %s "$1" 2>/dev/null || echo 0; }`,
    "while :; do",
    `  [ -e ${file(key, "exit")} ] && last=1`,
    `  n=$(size ${file(key, "out")})`,
    `  if [ "$n" -gt "$o" ]; then tail -c +$((o + 1)) ${file(key, "out")} | head -c $((n - o)); o=$n; fi`,
    `  n=$(size ${file(key, "err")})`,
    `  if [ "$n" -gt "$e" ]; then tail -c +$((e + 1)) ${file(key, "err")} | head -c $((n - e)) >&2; e=$n; fi`,
    `  [ -n "$last" ] && exit 0`,
    `  sleep ${READ_INTERVAL_SECONDS}`,
    "done",
  ].join("\n");
  return ["sh", "-c", script];
}

/**
 * Marks a step's output complete when its container ended without writing the exit file
 * (killed, deleted, out of memory), so the reader stops; a no-op when it exists.
 */
export function endStepOutputCommand(key: string): string[] {
  return ["sh", "-c", `[ -e ${file(key, "exit")} ] || echo gone >${file(key, "exit")}`];
}

/**
 * The workspace pod's preparation before the repository is copied in: the step output
 * directory is writable by steps running as any user (sticky, like /tmp).
 */
export const PREPARE_STEP_OUTPUT = `chmod 1777 ${STEP_OUTPUT_PATH}`;
