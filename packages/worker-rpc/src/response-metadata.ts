import * as grpc from "@grpc/grpc-js";

/**
 * Wraps a service's handlers so every call first sends `pairs` as its initial metadata (the
 * worker hands its build's trace context to whoever reads from it this way). Without pairs
 * the handlers are returned as they are.
 */
export function withResponseMetadata(
  handlers: grpc.UntypedServiceImplementation,
  pairs: Record<string, string> | undefined,
): grpc.UntypedServiceImplementation {
  if (!pairs || Object.keys(pairs).length === 0) return handlers;
  const metadata = new grpc.Metadata();
  for (const [key, value] of Object.entries(pairs)) metadata.set(key, value);
  return Object.fromEntries(
    Object.entries(handlers).map(([name, handler]) => [
      name,
      (call: { sendMetadata(md: grpc.Metadata): void }, ...rest: unknown[]) => {
        call.sendMetadata(metadata.clone());
        return (handler as (...args: unknown[]) => unknown)(call, ...rest);
      },
    ]),
  ) as grpc.UntypedServiceImplementation;
}
