import { status as GrpcStatus, type Metadata, type ServiceError } from "@grpc/grpc-js";
import { ArtifactNotFoundError, ResultStoreArgumentError, ResultStoreClosedError } from "@wharf/result-store";

/** An error the server answers with a specific gRPC status. */
export class RpcStatusError extends Error {
  override readonly name = "RpcStatusError";
  constructor(
    readonly code: GrpcStatus,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export function invalidArgument(message: string): RpcStatusError {
  return new RpcStatusError(GrpcStatus.INVALID_ARGUMENT, message);
}

/** Maps what a handler threw to the status the client gets. */
export function toServiceError(err: unknown): Partial<ServiceError> {
  const code = statusOf(err);
  const details = err instanceof Error ? err.message : String(err);
  return Object.assign(new Error(details), { code, details, metadata: undefined as Metadata | undefined });
}

function statusOf(err: unknown): GrpcStatus {
  if (err instanceof RpcStatusError) return err.code;
  if (err instanceof ArtifactNotFoundError) return GrpcStatus.NOT_FOUND;
  if (err instanceof ResultStoreArgumentError) return GrpcStatus.INVALID_ARGUMENT;
  // The store closes when the worker shuts down: the client should come back (to a restarted worker).
  if (err instanceof ResultStoreClosedError) return GrpcStatus.UNAVAILABLE;
  return GrpcStatus.INTERNAL;
}
