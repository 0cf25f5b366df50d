/** The API server's message from a client-node error (its body is a Status). */
export function apiMessage(err: unknown): string {
  const e = err as { body?: unknown; message?: string };
  if (typeof e?.body === "string") {
    try {
      const status = JSON.parse(e.body) as { message?: string };
      if (status.message) return status.message;
    } catch {
      // not JSON: fall through
    }
  }
  return e?.message ?? String(err);
}

/** Whether a client-node error is the API server's 404 (the object is gone: often fine). */
export const isNotFound = (err: unknown): boolean => (err as { code?: number })?.code === 404;
