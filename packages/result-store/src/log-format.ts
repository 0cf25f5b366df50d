import fs from "node:fs";
import { crc32Range } from "./crc32.js";
import { readAtSync, writeFully } from "./file-io.js";

/*
 * The log's records on disk: their format, their checks, and the repair of a crashed tail.
 *
 * On-disk format (little endian):
 *   logs.dat  records back to back: u32 payloadLength, u32 crc32(payload),
 *             payload = u32 stepId, f64 timestamp (epoch ms), UTF-8 message
 *   logs.idx  one u64 per record: the record's offset in logs.dat. Log ids are dense from 1, so the
 *             entry of id N sits at (N-1)*8: reading from any id is one seek, O(1).
 * Data is written before its index entries, so after a crash the index is at most a little behind or
 * ends in a torn entry; open() repairs both (see recover()).
 */
export const HEADER_BYTES = 8;
export const FIXED_PAYLOAD_BYTES = 12;
export const RECORD_OVERHEAD = HEADER_BYTES + FIXED_PAYLOAD_BYTES;
export const INDEX_ENTRY_BYTES = 8;
// Sanity bound for a payload length read back from disk, independent of today's maxLineBytes.
const MAX_PAYLOAD_ON_DISK = 64 * 1024 * 1024;
export const TWO_32 = 2 ** 32;

export function readOffset(buf: Buffer, at: number): number {
  return buf.readUInt32LE(at) + buf.readUInt32LE(at + 4) * TWO_32;
}

/** Total length the header at `pos` claims (header included); Infinity past the end of `buf`. */
export function recordLength(buf: Buffer, pos: number): number {
  return pos + 4 <= buf.length ? HEADER_BYTES + buf.readUInt32LE(pos) : Number.POSITIVE_INFINITY;
}

/** The payload length of the record at `pos` in `buf` if it is complete and plausible, else -1. */
export function payloadLength(buf: Buffer, pos: number): number {
  if (pos + HEADER_BYTES > buf.length) return -1;
  const length = buf.readUInt32LE(pos);
  if (length < FIXED_PAYLOAD_BYTES || length > MAX_PAYLOAD_ON_DISK) return -1;
  if (pos + HEADER_BYTES + length > buf.length) return -1;
  return length;
}

/** payloadLength, and -1 also when the record's checksum does not match. */
export function checkedPayloadLength(buf: Buffer, pos: number): number {
  const length = payloadLength(buf, pos);
  if (length < 0) return -1;
  const start = pos + HEADER_BYTES;
  return crc32Range(buf, start, start + length) === buf.readUInt32LE(pos + 4) ? length : -1;
}

/** Total size of the valid record at `offset` in the data file, or undefined if it is torn. */
function recordSizeAt(fd: number, fileSize: number, offset: number): number | undefined {
  if (offset + HEADER_BYTES > fileSize) return undefined;
  const length = readAtSync(fd, 4, offset).readUInt32LE(0);
  if (length < FIXED_PAYLOAD_BYTES || length > MAX_PAYLOAD_ON_DISK) return undefined;
  if (offset + HEADER_BYTES + length > fileSize) return undefined;
  const record = readAtSync(fd, HEADER_BYTES + length, offset);
  return checkedPayloadLength(record, 0) >= 0 ? record.length : undefined;
}

/**
 * Makes index and data agree after a crash. Index entries are dropped from the end until the last
 * one points at a valid record that directly follows its predecessor's; then complete records past
 * that one (written to data, index entry lost) are indexed again; finally the torn tails of both
 * files are cut off. Cost is proportional to the damaged tail, not to the log size.
 */
export function recover(dataFd: number, indexFd: number): { count: number; bytes: number } {
  const dataSize = fs.fstatSync(dataFd).size;
  let count = Math.floor(fs.fstatSync(indexFd).size / INDEX_ENTRY_BYTES);
  const entry = (i: number) => readOffset(readAtSync(indexFd, INDEX_ENTRY_BYTES, i * INDEX_ENTRY_BYTES), 0);
  let end = 0;
  while (count > 0) {
    const offset = entry(count - 1);
    const size = recordSizeAt(dataFd, dataSize, offset);
    let follows = offset === 0 && count === 1;
    if (size !== undefined && count > 1) {
      const prev = entry(count - 2);
      follows = prev + (recordSizeAt(dataFd, dataSize, prev) ?? Number.NaN) === offset;
    }
    if (size !== undefined && follows) {
      end = offset + size;
      break;
    }
    count--;
  }
  fs.ftruncateSync(indexFd, count * INDEX_ENTRY_BYTES);
  const entryBuf = Buffer.allocUnsafe(INDEX_ENTRY_BYTES);
  for (;;) {
    const size = recordSizeAt(dataFd, dataSize, end);
    if (size === undefined) break;
    entryBuf.writeUInt32LE(end % TWO_32, 0);
    entryBuf.writeUInt32LE(Math.floor(end / TWO_32), 4);
    writeFully(indexFd, entryBuf, 0, INDEX_ENTRY_BYTES, count * INDEX_ENTRY_BYTES);
    count++;
    end += size;
  }
  fs.ftruncateSync(dataFd, end);
  return { count, bytes: end };
}
