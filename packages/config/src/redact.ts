/**
 * What a log line must never hold. wharf-api sends its tokens in the query string
 * (`POST /api/worker?…&GIT_TOKEN=…&token=…`), so a logged URL is masked before it is written.
 * `VARS` carries the build's inputs, password inputs among them, and only the pipeline
 * knows which: it is masked whole.
 */
const SECRET_PARAM = /(token|password|passwd|secret|credential|auth|key|^vars$)/i;

/** `url` with the value of every secret-looking query parameter replaced by `***`. */
export function redactUrl(url: string): string {
  const q = url.indexOf("?");
  if (q === -1) return url;
  const params = url
    .slice(q + 1)
    .split("&")
    .map((pair) => {
      const eq = pair.indexOf("=");
      const name = decodeSafely(eq === -1 ? pair : pair.slice(0, eq));
      return eq !== -1 && SECRET_PARAM.test(name) ? `${pair.slice(0, eq)}=***` : pair;
    });
  return `${url.slice(0, q)}?${params.join("&")}`;
}

function decodeSafely(s: string): string {
  try {
    return decodeURIComponent(s.replace(/\+/g, " "));
  } catch {
    return s;
  }
}

/** pino's `req` serializer for fastify's request logs: the usual fields, the URL redacted. */
export function redactedRequest(req: {
  method?: string;
  url?: string;
  host?: string;
  hostname?: string;
  ip?: string;
  socket?: { remotePort?: number };
}) {
  return {
    method: req.method,
    url: req.url === undefined ? undefined : redactUrl(req.url),
    host: req.host ?? req.hostname,
    remoteAddress: req.ip,
    remotePort: req.socket?.remotePort,
  };
}
