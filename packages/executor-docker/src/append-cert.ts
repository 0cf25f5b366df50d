import path from "node:path";
import { extract, pack } from "tar-stream";

/** The certificate's name in the build context and in the image, as wharf-cmd puts it. */
export const APPENDED_CERT_NAME = "root.crt";

/**
 * What `append-cert` adds to the end of the Dockerfile (wharf-cmd's semantics): the worker's
 * certificate is copied into the final stage and appended to its CA bundle, so the image
 * trusts what the organisation's root CA signed. The final stage needs `sh`, `mkdir`,
 * `touch` and `cat`, and a user that may write /etc/ssl/certs.
 */
export function appendedCertLines(): string {
  return [
    `COPY ./${APPENDED_CERT_NAME} /usr/local/share/ca-certificates/${APPENDED_CERT_NAME}`,
    "RUN mkdir -p /etc/ssl/certs/ && touch /etc/ssl/certs/ca-certificates.crt" +
      ` && cat /usr/local/share/ca-certificates/${APPENDED_CERT_NAME} >> /etc/ssl/certs/ca-certificates.crt`,
    "",
  ].join("\n");
}

async function collect(stream: AsyncIterable<Buffer>): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk);
  return Buffer.concat(chunks);
}

/**
 * The build context tar with the certificate added at its root and the Dockerfile
 * (`dockerfile`, relative to the context) ending in `appendedCertLines`. Rewritten as it
 * streams to the engine: the workspace itself is left as it was, so other steps (and a
 * second build of the same Dockerfile) see the files unchanged.
 */
export function withAppendedCert(
  context: NodeJS.ReadableStream,
  dockerfile: string,
  cert: Buffer,
): NodeJS.ReadableStream {
  const input = extract();
  const output = pack();
  const target = path.posix.normalize(dockerfile);
  input.on("entry", (header, stream, next) => {
    const name = path.posix.normalize(header.name).replace(/^\.\//, "").replace(/\/$/, "");
    if (name === APPENDED_CERT_NAME) {
      // The worker's certificate replaces a file of the same name.
      stream.resume();
      stream.on("end", next);
      return;
    }
    if (name === target && header.type === "file") {
      collect(stream as unknown as AsyncIterable<Buffer>).then((body) => {
        const text = body.toString("utf8");
        const patched = Buffer.from(
          `${text}${text.endsWith("\n") || text === "" ? "" : "\n"}${appendedCertLines()}`,
        );
        output.entry({ ...header, size: patched.length }, patched, next);
      }, next);
      return;
    }
    stream.pipe(output.entry(header, next) as unknown as NodeJS.WritableStream);
  });
  input.on("finish", () => {
    output.entry({ name: APPENDED_CERT_NAME, mode: 0o644 }, cert, (err) => {
      if (err) output.destroy(err);
      else output.finalize();
    });
  });
  input.on("error", (err) => output.destroy(err));
  context.on("error", (err) => output.destroy(err));
  context.pipe(input as unknown as NodeJS.WritableStream);
  return output as unknown as NodeJS.ReadableStream;
}
