import type { ServerResponse } from "node:http";

/** An API error as the server reports it: a `Status` object with reason and code. */
export class ApiStatusError extends Error {
  override readonly name = "ApiStatusError";
  constructor(
    readonly code: number,
    readonly reason: string,
    message: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
  }

  toStatus(): object {
    return {
      kind: "Status",
      apiVersion: "v1",
      metadata: {},
      status: "Failure",
      message: this.message,
      reason: this.reason,
      ...(this.details ? { details: this.details } : {}),
      code: this.code,
    };
  }
}

export const notFound = (resource: string, name: string) =>
  new ApiStatusError(404, "NotFound", `${resource} "${name}" not found`, { name, kind: resource });

export const badRequest = (message: string) => new ApiStatusError(400, "BadRequest", message);

export const invalid = (kind: string, name: string, causes: string[]) =>
  new ApiStatusError(422, "Invalid", `${kind} "${name}" is invalid: ${causes.join(", ")}`, {
    name,
    kind,
    causes: causes.map((message) => ({ reason: "FieldValueInvalid", message })),
  });

export function sendJson(res: ServerResponse, code: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(code, { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(text) });
  res.end(text);
}
