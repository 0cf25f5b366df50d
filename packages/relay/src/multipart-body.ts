import { randomBytes } from "node:crypto";

export interface MultipartBody {
  contentType: string;
  body: AsyncIterable<Uint8Array>;
}

/**
 * A multipart/form-data body with one file part whose bytes come from `source`
 * as they arrive, so an artifact is never held in memory whole. (undici's
 * FormData only takes Blobs, which Node keeps in memory.)
 */
export function multipartFileBody(
  field: string,
  fileName: string,
  source: AsyncIterable<Uint8Array>,
): MultipartBody {
  const boundary = `----wharf${randomBytes(12).toString("hex")}`;
  const safeName = fileName.replace(/["\r\n\\]/g, "_");
  const head = Buffer.from(
    `--${boundary}\r\n` +
      `Content-Disposition: form-data; name="${field}"; filename="${safeName}"\r\n` +
      "Content-Type: application/octet-stream\r\n\r\n",
  );
  const tail = Buffer.from(`\r\n--${boundary}--\r\n`);
  async function* body(): AsyncGenerator<Uint8Array> {
    yield head;
    for await (const chunk of source) if (chunk.byteLength > 0) yield chunk;
    yield tail;
  }
  return { contentType: `multipart/form-data; boundary=${boundary}`, body: body() };
}
