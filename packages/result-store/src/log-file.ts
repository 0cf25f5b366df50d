import fs from "node:fs";
import { crc32Range } from "./crc32.js";
import { ResultStoreCorruptError } from "./errors.js";
import { fsyncFd, openReadWrite, readAt, writeFully } from "./file-io.js";
import {
  checkedPayloadLength,
  FIXED_PAYLOAD_BYTES,
  HEADER_BYTES,
  INDEX_ENTRY_BYTES,
  payloadLength,
  RECORD_OVERHEAD,
  readOffset,
  recordLength,
  recover,
  TWO_32,
} from "./log-format.js";
import type { LogEntry, LogRecordBatch } from "./types.js";

/** Appends are buffered in memory up to this much before they are written to the OS. */
export const DEFAULT_BUFFER_BYTES = 1024 * 1024;

/** Where a sequential reader goes on: the next id, and that record's offset once known. */
export interface ReadCursor {
  nextId: number;
  offset?: number;
}

export interface ReadResult {
  batch: LogRecordBatch;
  cursor: ReadCursor;
}

/**
 * The append-only log of one build: a data file plus a fixed-width offset index. Appends go to a
 * fixed buffer (memory stays flat whatever the volume); `writeOut()` hands the buffer to the OS and
 * only then are the records visible to `read()`, which always reads from disk.
 */
export class LogFile {
  private readonly pending: Buffer;
  private pendingBytes = 0;
  private readonly pendingIndex: Buffer;
  private pendingCount = 0;

  private constructor(
    private readonly dataFd: number,
    private readonly indexFd: number,
    /** Records written to the OS, readable by followers. */
    private committedCount: number,
    private committedBytes: number,
    maxMessageBytes: number,
    /**
     * Where this process's own appends begin. Records before it came from disk (an earlier
     * process, maybe a crash) and their checksums are verified on every read; records after it
     * went from our buffer to the OS a moment ago, so reading them skips the checksum (about a
     * quarter of a µs per short line: a third of the worker CPU per line the relay bench measured).
     */
    private readonly appendedFrom: number,
  ) {
    this.pending = Buffer.allocUnsafe(
      Math.max(DEFAULT_BUFFER_BYTES, 4 * (RECORD_OVERHEAD + maxMessageBytes)),
    );
    this.pendingIndex = Buffer.allocUnsafe(
      Math.ceil(this.pending.length / RECORD_OVERHEAD) * INDEX_ENTRY_BYTES,
    );
  }

  /** Opens (creating if needed) and repairs a torn tail left by a crash. */
  static open(dataPath: string, indexPath: string, maxMessageBytes: number): LogFile {
    const dataFd = openReadWrite(dataPath);
    let indexFd: number;
    try {
      indexFd = openReadWrite(indexPath);
    } catch (err) {
      fs.closeSync(dataFd);
      throw err;
    }
    try {
      const { count, bytes } = recover(dataFd, indexFd);
      return new LogFile(dataFd, indexFd, count, bytes, maxMessageBytes, bytes);
    } catch (err) {
      fs.closeSync(dataFd);
      fs.closeSync(indexFd);
      throw err;
    }
  }

  /** Id of the last appended record (buffered or not); 0 when empty. */
  get lastId(): number {
    return this.committedCount + this.pendingCount;
  }

  /** Id of the last record readers can see. */
  get lastCommittedId(): number {
    return this.committedCount;
  }

  get bufferedBytes(): number {
    return this.pendingBytes;
  }

  get bufferCapacity(): number {
    return this.pending.length;
  }

  /** Buffers one record and returns its id. `line` must fit the maxMessageBytes given to open(). */
  append(stepId: number, timestamp: number, line: string): number {
    const length = Buffer.byteLength(line);
    const recordBytes = RECORD_OVERHEAD + length;
    if (this.pendingBytes + recordBytes > this.pending.length) this.writeOut();
    const buf = this.pending;
    const at = this.pendingBytes;
    buf.writeUInt32LE(FIXED_PAYLOAD_BYTES + length, at);
    buf.writeUInt32LE(stepId, at + 8);
    buf.writeDoubleLE(timestamp, at + 12);
    buf.write(line, at + RECORD_OVERHEAD, length, "utf8");
    buf.writeUInt32LE(crc32Range(buf, at + HEADER_BYTES, at + recordBytes), at + 4);
    const offset = this.committedBytes + at;
    const entry = this.pendingCount * INDEX_ENTRY_BYTES;
    this.pendingIndex.writeUInt32LE(offset % TWO_32, entry);
    this.pendingIndex.writeUInt32LE(Math.floor(offset / TWO_32), entry + 4);
    this.pendingBytes += recordBytes;
    this.pendingCount++;
    return this.committedCount + this.pendingCount;
  }

  /** Hands buffered records to the OS (data first, then index), making them readable. */
  writeOut(): void {
    if (this.pendingCount === 0) return;
    writeFully(this.dataFd, this.pending, 0, this.pendingBytes, this.committedBytes);
    writeFully(
      this.indexFd,
      this.pendingIndex,
      0,
      this.pendingCount * INDEX_ENTRY_BYTES,
      this.committedCount * INDEX_ENTRY_BYTES,
    );
    this.committedBytes += this.pendingBytes;
    this.committedCount += this.pendingCount;
    this.pendingBytes = 0;
    this.pendingCount = 0;
  }

  /** Durably stores everything written out so far. */
  async sync(): Promise<void> {
    await fsyncFd(this.dataFd);
    await fsyncFd(this.indexFd);
  }

  /**
   * Reads committed records from `cursor.nextId` on: at most `maxCount` of them and at most `maxBytes`
   * of record data, but always at least one record when there is one. A cursor returned by an earlier
   * read carries the data offset, so a sequential reader skips the index (one read per batch); a
   * fresh cursor (`offset` undefined) seeks through the index. The records stay as read, undecoded
   * (see logEntriesOf).
   */
  async read(cursor: ReadCursor, maxCount: number, maxBytes: number): Promise<ReadResult> {
    const count = this.committedCount;
    const size = this.committedBytes;
    const fromId = cursor.nextId;
    if (fromId > count || maxCount < 1) return { batch: emptyBatch(fromId), cursor };
    const last = Math.min(count, fromId + maxCount - 1);
    const start = cursor.offset ?? (await this.offsetOf(fromId));
    // Where the batch's last record ends, so that a batch of short lines does not read (and allocate)
    // all of maxBytes to use a tenth of it. Only a hint: records are checked as they are parsed.
    const end = last < count ? await this.offsetOf(last + 1) : size;
    const wanted = end > start && end <= size ? end - start : size - start;
    let data = await readAt(this.dataFd, Math.min(wanted, Math.max(maxBytes, HEADER_BYTES)), start);
    if (payloadLength(data, 0) < 0) {
      // The first record alone is larger than maxBytes (or damaged: checked again below).
      data = await readAt(this.dataFd, Math.min(size - start, HEADER_BYTES + data.readUInt32LE(0)), start);
    }
    // Every record takes at least RECORD_OVERHEAD bytes, so no more than this many fit in `data`.
    const capacity = Math.max(1, Math.min(last - fromId + 1, Math.floor(data.length / RECORD_OVERHEAD)));
    const stepIds = new Uint32Array(capacity);
    const timestamps = new Float64Array(capacity);
    const messageStarts = new Uint32Array(capacity);
    const messageEnds = new Uint32Array(capacity);
    let n = 0;
    let pos = 0;
    // Offsets within `data` from which on records are our own appends (see appendedFrom).
    const ownFrom = this.appendedFrom - start;
    for (let id = fromId; id <= last; id++) {
      const length = pos >= ownFrom ? payloadLength(data, pos) : checkedPayloadLength(data, pos);
      if (length < 0) {
        // A record cut by the end of this read continues in the next batch; anything else is damage.
        if (n > 0 && pos + recordLength(data, pos) > data.length) break;
        throw new ResultStoreCorruptError(`log record ${id}: fails its checksum`);
      }
      stepIds[n] = data.readUInt32LE(pos + HEADER_BYTES);
      timestamps[n] = data.readDoubleLE(pos + HEADER_BYTES + 4);
      messageStarts[n] = pos + RECORD_OVERHEAD;
      pos += HEADER_BYTES + length;
      messageEnds[n] = pos;
      n++;
    }
    const batch: LogRecordBatch = {
      count: n,
      firstLogId: fromId,
      stepIds: stepIds.subarray(0, n),
      timestamps: timestamps.subarray(0, n),
      data,
      messageStarts: messageStarts.subarray(0, n),
      messageEnds: messageEnds.subarray(0, n),
    };
    return { batch, cursor: { nextId: fromId + n, offset: start + pos } };
  }

  private async offsetOf(id: number): Promise<number> {
    return readOffset(await readAt(this.indexFd, INDEX_ENTRY_BYTES, (id - 1) * INDEX_ENTRY_BYTES), 0);
  }

  close(): void {
    fs.closeSync(this.dataFd);
    fs.closeSync(this.indexFd);
  }
}

function emptyBatch(firstLogId: number): LogRecordBatch {
  const none = new Uint32Array(0);
  return {
    count: 0,
    firstLogId,
    stepIds: none,
    timestamps: new Float64Array(0),
    data: Buffer.alloc(0),
    messageStarts: none,
    messageEnds: none,
  };
}

/** The records of `batch` decoded, for readers that want strings. */
export function logEntriesOf(batch: LogRecordBatch): LogEntry[] {
  const { count, firstLogId, stepIds, timestamps, data, messageStarts, messageEnds } = batch;
  const entries: LogEntry[] = [];
  for (let i = 0; i < count; i++) {
    entries.push({
      logId: firstLogId + i,
      stepId: stepIds[i] as number,
      timestamp: timestamps[i] as number,
      message: data.toString("utf8", messageStarts[i], messageEnds[i]),
    });
  }
  return entries;
}
