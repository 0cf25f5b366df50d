import fs from "node:fs";
import { dirname as pathDirname } from "node:path";

/** Writes all of `buf[from, to)` at `position`, looping over short writes. */
export function writeFully(fd: number, buf: Buffer, from: number, to: number, position: number): void {
  let done = from;
  while (done < to) {
    done += fs.writeSync(fd, buf, done, to - done, position + (done - from));
  }
}

/** Reads exactly `length` bytes at `position`, or fewer if the file ends first. */
export function readAtSync(fd: number, length: number, position: number): Buffer {
  const buf = Buffer.allocUnsafe(length);
  let got = 0;
  while (got < length) {
    const n = fs.readSync(fd, buf, got, length - got, position + got);
    if (n === 0) break;
    got += n;
  }
  return got === length ? buf : buf.subarray(0, got);
}

function readOnce(fd: number, buf: Buffer, offset: number, length: number, position: number) {
  return new Promise<number>((resolve, reject) => {
    fs.read(fd, buf, offset, length, position, (err, n) => (err ? reject(err) : resolve(n)));
  });
}

/** Async twin of readAtSync: followers read without blocking the appending event loop. */
export async function readAt(fd: number, length: number, position: number): Promise<Buffer> {
  const buf = Buffer.allocUnsafe(length);
  let got = 0;
  while (got < length) {
    const n = await readOnce(fd, buf, got, length - got, position + got);
    if (n === 0) break;
    got += n;
  }
  return got === length ? buf : buf.subarray(0, got);
}

export function fsyncFd(fd: number): Promise<void> {
  return new Promise((resolve, reject) => fs.fsync(fd, (err) => (err ? reject(err) : resolve())));
}

/** fsync of a path (a directory after a rename, a finished artifact file). */
export async function fsyncPath(path: string): Promise<void> {
  const handle = await fs.promises.open(path, "r");
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Opens for positional read/write, creating the file if needed (without O_APPEND, so truncation works). */
export function openReadWrite(path: string): number {
  try {
    return fs.openSync(path, "r+");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
    return fs.openSync(path, "w+");
  }
}

/** Replaces `path` atomically: write a sibling, fsync it if asked, rename over. */
export function writeFileAtomicSync(path: string, data: string, durable: boolean): void {
  const tmp = `${path}.tmp`;
  const fd = fs.openSync(tmp, "w");
  try {
    fs.writeFileSync(fd, data);
    if (durable) fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  fs.renameSync(tmp, path);
  if (durable) fsyncDirSync(pathDirname(path));
}

/** Makes a rename or a new file in `dir` durable. */
export function fsyncDirSync(dir: string): void {
  const fd = fs.openSync(dir, "r");
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}
