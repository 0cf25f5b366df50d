/**
 * wharf-api's build id: the one type every process holds a build's id in, from the
 * provisioner's HTTP route (BUILD_REF) through the worker (WHARF_BUILD_REF) and the labels
 * (`wharf.iver.com/build-ref`) to the aggregator's calls to wharf-api (`/api/build/{buildId}`).
 *
 * It is a whole number from 1 to 2^53 − 1. wharf-api's ids are Go `uint` primary keys that
 * start at 1, and wharf-cmd treats 0 as "no build id assigned"; a JavaScript number holds them
 * exactly up to MAX_SAFE_INTEGER. A build id 0 could never be relayed (wharf-api has no such
 * build), so it is refused where it comes in rather than after a worker ran it.
 *
 * Text becomes a BuildId only through `parseBuildId`, and a BuildId becomes text only through
 * `formatBuildId`; every wire name (BUILD_REF, WHARF_BUILD_REF, the label, the provisioner's
 * `buildRef` JSON fields) stays as it is, the conversion happens once at that edge.
 * (A subpath of its own: no gRPC is loaded for it.)
 */
export type BuildId = number;

/** Text that is not a build id; the message names where it came from and quotes the text. */
export class BuildIdError extends Error {
  override readonly name = "BuildIdError";
}

/**
 * Only the canonical spelling: digits without sign, spaces, leading zeros or exponent. A build
 * id is also a label value, a directory name and a database key, so one id has one text and
 * `formatBuildId(parseBuildId(t)) === t` — "007" and "7" can never name one build twice.
 */
const CANONICAL = /^[1-9][0-9]{0,15}$/;

/** Longer text is cut in the error message: the value is not secret, but may be anything. */
const QUOTED_MAX = 40;

function quoted(text: string): string {
  return JSON.stringify(text.length > QUOTED_MAX ? `${text.slice(0, QUOTED_MAX)}…` : text);
}

/** True for a number that is a build id (whole, 1 … MAX_SAFE_INTEGER). */
export function isBuildId(value: unknown): value is BuildId {
  return typeof value === "number" && Number.isSafeInteger(value) && value > 0;
}

/**
 * `text` as a build id; `what` names where it came from ("BUILD_REF", "label
 * wharf.iver.com/build-ref", …) for the error, which says what a build id looks like.
 */
export function parseBuildId(text: string, what: string): BuildId {
  const n = Number(text);
  if (!CANONICAL.test(text) || !isBuildId(n)) {
    throw new BuildIdError(
      `${what} must be a wharf-api build id (a whole number from 1 to ${Number.MAX_SAFE_INTEGER}, ` +
        `no sign, spaces or leading zeros), got ${quoted(text)}`,
    );
  }
  return n;
}

/**
 * A number that came as JSON (the provisioner's worker list, a request body) checked to be a
 * build id; the same error as `parseBuildId` for anything else.
 */
export function checkBuildId(value: unknown, what: string): BuildId {
  if (isBuildId(value)) return value;
  throw new BuildIdError(
    `${what} must be a wharf-api build id (a whole number from 1 to ${Number.MAX_SAFE_INTEGER}), ` +
      `got ${typeof value === "string" ? `the text ${quoted(value)}` : quoted(String(value))}`,
  );
}

/** The wire text of a build id: what `parseBuildId` reads back. */
export function formatBuildId(id: BuildId): string {
  return String(id);
}
