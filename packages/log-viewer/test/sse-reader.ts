import http from "node:http";

/** One parsed Server-Sent Event (or a comment, as `event: "comment"`). */
export interface ParsedEvent {
  event: string;
  id?: string;
  retry?: number;
  data: string;
}

/**
 * Reads an SSE response by hand (node:http + the framing rules), so tests see exactly what went
 * over the wire, comments and ids included. `onEvent` returning true stops reading and closes the
 * connection. A response that is not an event stream comes back whole as `body`.
 */
export function readEvents(
  url: string,
  opts: {
    headers?: Record<string, string>;
    onEvent?: (e: ParsedEvent) => boolean | undefined;
    timeoutMs?: number;
  } = {},
): Promise<{ status: number; contentType: string | null; events: ParsedEvent[]; body?: string }> {
  const events: ParsedEvent[] = [];
  return new Promise((resolve, reject) => {
    const req = http.get(url, { agent: false, headers: { accept: "text/event-stream", ...opts.headers } });
    const timer = setTimeout(() => {
      req.destroy();
      reject(new Error(`timed out reading ${url}; got ${events.map((e) => e.event).join(",")}`));
    }, opts.timeoutMs ?? 15_000);
    req.on("error", (err) => {
      clearTimeout(timer);
      reject(err);
    });
    req.on("response", (res) => {
      const status = res.statusCode ?? 0;
      const contentType = res.headers["content-type"] ?? null;
      const done = (body?: string) => {
        clearTimeout(timer);
        resolve({ status, contentType, events, body });
      };
      res.setEncoding("utf8");
      let buffer = "";
      if (!contentType?.startsWith("text/event-stream")) {
        res.on("data", (chunk: string) => {
          buffer += chunk;
        });
        res.on("end", () => done(buffer));
        return;
      }
      let stopped = false;
      res.on("data", (chunk: string) => {
        if (stopped) return;
        buffer += chunk;
        for (let end = buffer.indexOf("\n\n"); end >= 0; end = buffer.indexOf("\n\n")) {
          const e = parseBlock(buffer.slice(0, end));
          buffer = buffer.slice(end + 2);
          events.push(e);
          if (opts.onEvent?.(e)) {
            stopped = true;
            req.destroy();
            return done();
          }
        }
      });
      res.on("end", () => done());
    });
  });
}

function parseBlock(block: string): ParsedEvent {
  const e: ParsedEvent = { event: "message", data: "" };
  const data: string[] = [];
  for (const line of block.split("\n")) {
    if (line.startsWith(":")) return { event: "comment", data: line.slice(1).trim() };
    const colon = line.indexOf(":");
    const field = colon < 0 ? line : line.slice(0, colon);
    const value = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
    if (field === "event") e.event = value;
    else if (field === "id") e.id = value;
    else if (field === "retry") e.retry = Number(value);
    else if (field === "data") data.push(value);
  }
  e.data = data.join("\n");
  return e;
}

/** The log ids of the `log` events, in order. */
export function logIds(events: ParsedEvent[]): number[] {
  return events
    .filter((e) => e.event === "log")
    .flatMap((e) => (JSON.parse(e.data) as { logId: number }[]).map((l) => l.logId));
}
