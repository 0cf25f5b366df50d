import type { CriClient, PullAuth } from "./cri-client.js";

export type PullPolicy = "never" | "if-not-present" | "always";

/** Why an image could not be made available; the executor turns it into a `StepStartError`. */
export class ImageUnavailableError extends Error {
  override readonly name = "ImageUnavailableError";
}

/**
 * Makes `image` available to the runtime according to `policy`, pulling through the CRI
 * ImageService (so the runtime's own registry configuration, mirrors and credentials apply)
 * with `auth` when given. The pull is bounded by `timeoutMs`: an unreachable registry fails
 * the step instead of hanging it. Messages name the image and the runtime's reason, never `auth`.
 */
export async function ensureImage(
  cri: CriClient,
  image: string,
  policy: PullPolicy,
  timeoutMs: number,
  auth?: PullAuth,
): Promise<void> {
  if (policy !== "always" && (await cri.imageId(image)) !== undefined) return;
  if (policy === "never")
    throw new ImageUnavailableError(`image ${image} not found locally and the pull policy is "never"`);
  try {
    await cri.pullImage(image, auth && withServerUrl(auth), timeoutMs);
  } catch (err) {
    const what = policy === "always" ? "pull failed" : "not found locally and pull failed";
    throw new ImageUnavailableError(`image ${image} ${what}: ${reasonOf(err, auth)}`, { cause: err });
  }
}

/**
 * containerd hands the credentials only to a registry whose host is the host of `serverAddress`
 * parsed as a URL (a bare "host:port" fails to parse, and the pull with it), so a registry host
 * is given as "https://host:port": the scheme is not used to connect, only the host compared.
 */
function withServerUrl(auth: PullAuth): PullAuth {
  const address = auth.serverAddress;
  return address && !address.includes("://") ? { ...auth, serverAddress: `https://${address}` } : auth;
}

/** The runtime's message without the gRPC prefix ("2 UNKNOWN: "), with any credential cut out. */
function reasonOf(err: unknown, auth: PullAuth | undefined): string {
  const e = err as { details?: unknown; message?: unknown };
  let text = typeof e.details === "string" && e.details ? e.details : String(e.message ?? err);
  for (const secret of [auth?.password, auth?.auth, auth?.identityToken, auth?.registryToken])
    if (secret) text = text.split(secret).join("***");
  return text;
}
