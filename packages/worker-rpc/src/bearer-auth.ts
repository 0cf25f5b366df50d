import { createHash, timingSafeEqual } from "node:crypto";
import type { Metadata } from "@grpc/grpc-js";
import { status as GrpcStatus } from "@grpc/grpc-js";
import { RpcStatusError } from "./rpc-errors.js";

/**
 * Checks `authorization: Bearer <token>` metadata. Without a configured token every call is
 * allowed. Digests are compared so the comparison takes the same time whatever the length.
 */
export class BearerAuth {
  private readonly expected: Buffer | undefined;

  constructor(token: string | undefined) {
    this.expected = token ? digest(`Bearer ${token}`) : undefined;
  }

  /** Throws UNAUTHENTICATED unless the metadata carries the token. */
  check(metadata: Metadata): void {
    if (!this.expected) return;
    const values = metadata.get("authorization");
    const given = values.length === 1 && typeof values[0] === "string" ? values[0] : undefined;
    if (given === undefined || !timingSafeEqual(digest(given), this.expected)) {
      throw new RpcStatusError(GrpcStatus.UNAUTHENTICATED, "missing or wrong bearer token");
    }
  }
}

function digest(s: string): Buffer {
  return createHash("sha256").update(s).digest();
}
