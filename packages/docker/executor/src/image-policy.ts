import type Docker from "dockerode";
import { abortable, readProgress } from "./engine-progress.js";

export type PullPolicy = "never" | "if-not-present" | "always";

/** Why an image could not be made available; the executor turns it into a `StepStartError`. */
export class ImageUnavailableError extends Error {
  override readonly name = "ImageUnavailableError";
}

/** True when the engine has `image` (any form `docker image inspect` accepts). */
export async function imageExists(docker: Docker, image: string): Promise<boolean> {
  try {
    await docker.getImage(image).inspect();
    return true;
  } catch (err) {
    if ((err as { statusCode?: number }).statusCode === 404) return false;
    throw err;
  }
}

/**
 * Makes `image` available according to `policy`. A pull is bounded by `timeoutMs` (and
 * by `signal`, the build being cancelled), so an unreachable registry fails the step
 * instead of hanging it.
 */
export async function ensureImage(
  docker: Docker,
  image: string,
  policy: PullPolicy,
  timeoutMs: number,
  signal?: AbortSignal,
): Promise<void> {
  if (policy !== "always" && (await imageExists(docker, image))) return;
  if (policy === "never")
    throw new ImageUnavailableError(`image ${image} not found locally and the pull policy is "never"`);
  const bound = AbortSignal.timeout(timeoutMs);
  try {
    await pullImage(docker, image, signal ? AbortSignal.any([signal, bound]) : bound);
  } catch (err) {
    const reason = bound.aborted ? `no result within ${timeoutMs} ms` : err;
    const what = policy === "always" ? "pull failed" : "not found locally and pull failed";
    throw new ImageUnavailableError(`image ${image} ${what}: ${messageOf(reason)}`, { cause: err });
  }
}

async function pullImage(docker: Docker, image: string, abortSignal: AbortSignal): Promise<void> {
  await abortable(
    docker.pull(image, { abortSignal }).then((stream) => readProgress(stream)),
    abortSignal,
  );
  // Trust what the engine has, not what it said.
  if (!(await imageExists(docker, image))) throw new Error("the engine did not store the image");
}

function messageOf(err: unknown): string {
  if (err instanceof Error) return err.message.replace(/^\(HTTP code \d+\) [a-z ]+ - /, "").trim();
  return String(err);
}
