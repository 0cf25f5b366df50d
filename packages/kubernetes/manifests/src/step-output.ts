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
    `"$0" -c "$1" >${file(key, "out")} 2>${file(key, "err")} </dev/null & p=$!`,
    // After the child exists: a TERM before this is ignored by PID 1, one after is passed on.
    `trap 'kill -TERM $p 2>/dev/null' TERM INT`,
    // `wait` returns early (>128) when a trapped signal arrives: wait until the script ended.
    "wait $p; c=$?",
    "while kill -0 $p 2>/dev/null; do wait $p; c=$?; done",
    `echo $c >${file(key, "exit")}`,
    "exit $c",
  ].join("\n");
  // The wrapper is POSIX sh: run it by the step's shell when that is one, else by /bin/sh
  // (a step whose shell is pwsh still runs its script in pwsh, as `"$0" -c "$1"`).
  return [POSIX_SHELL.test(shell) ? shell : "/bin/sh", "-c", wrapper, shell, script];
}

/** Shells that run the POSIX wrapper themselves (sh, bash, ash, dash, ksh; /busybox/sh). */
const POSIX_SHELL = /(^|\/)(sh|bash|ash|dash|ksh|mksh)$/;

/** The reader's exit code when it stopped itself after READER_IDLE_SECONDS without output. */
export const READER_IDLE_EXIT_CODE = 75;
/**
 * A reader left running in the workspace pod (the worker went away) stops after this long
 * without a new byte; a worker still reading opens it again from its offsets.
 */
const READER_IDLE_SECONDS = 300;

/**
 * A command for the workspace pod that writes the step's stdout file to its stdout and
 * its stderr file to its stderr, starting at the given byte offsets, following both until
 * the exit file exists, then the rest, and ends with status 0. Each file is opened once
 * (fds 3 and 4; what was already received is read past once) and `head -c` copies exactly
 * the bytes between two sizes from the shared offset, so a poll reads only what is new.
 * After READER_IDLE_SECONDS without a byte it exits READER_IDLE_EXIT_CODE. Only POSIX sh,
 * stat -c, head -c and a fractional sleep (busybox has them).
 */
export function readStepOutputCommand(key: string, offsets: { stdout: number; stderr: number }): string[] {
  const polls = Math.ceil(READER_IDLE_SECONDS / Number(READ_INTERVAL_SECONDS));
  const follow = (name: "out" | "err", fd: 3 | 4, offset: string, opened: string, redirect: string) => [
    `  if [ -z "$${opened}" ] && [ -e ${file(key, name)} ]; then`,
    `    exec ${fd}<${file(key, name)}; head -c "$${offset}" <&${fd} >/dev/null; ${opened}=1`,
    "  fi",
    `  if [ -n "$${opened}" ]; then`,
    `    n=$(size ${file(key, name)})`,
    `    if [ "$n" -gt "$${offset}" ]; then head -c $((n - ${offset})) <&${fd}${redirect}; ${offset}=$n; got=1; fi`,
    "  fi",
  ];
  const script = [
    `o=${Math.trunc(offsets.stdout)}; e=${Math.trunc(offsets.stderr)}; idle=0`,
    `size() { stat -c %s "$1" 2>/dev/null || echo 0; }`,
    "while :; do",
    // The exit file first: it is written after the step's output files were closed.
    `  [ -e ${file(key, "exit")} ] && last=1`,
    "  got=",
    ...follow("out", 3, "o", "oo", ""),
    ...follow("err", 4, "e", "eo", " >&2"),
    '  [ -n "$last" ] && exit 0',
    '  if [ -n "$got" ]; then idle=0; else idle=$((idle + 1)); fi',
    `  [ "$idle" -ge ${polls} ] && exit ${READER_IDLE_EXIT_CODE}`,
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
