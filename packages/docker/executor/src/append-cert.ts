import path from "node:path";
import { APPENDED_CERT_INSTRUCTIONS, APPENDED_CERT_NAME } from "@wharf/executor";
import { extract, pack } from "tar-stream";

/** The build context's lines appended to the Dockerfile, and a newline. */
export function appendedCertLines(): string {
  return `${APPENDED_CERT_INSTRUCTIONS.join("\n")}\n`;
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
