import { createHash } from "node:crypto";
import fs from "node:fs";
import { pipeline } from "node:stream/promises";
import { fsyncPath } from "./file-io.js";

/** Copies `source` to a new file `dest`, hashing on the way; the copy is fsynced before returning. */
export async function copyWithDigest(
  source: string,
  dest: string,
): Promise<{ size: number; sha256: string }> {
  const hash = createHash("sha256");
  let size = 0;
  await pipeline(
    fs.createReadStream(source),
    async function* (chunks: AsyncIterable<Buffer>) {
      for await (const chunk of chunks) {
        hash.update(chunk);
        size += chunk.length;
        yield chunk;
      }
    },
    fs.createWriteStream(dest, { flags: "wx" }),
  );
  await fsyncPath(dest);
  return { size, sha256: hash.digest("hex") };
}
