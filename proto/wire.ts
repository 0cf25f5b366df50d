/*
 * Protobuf wire primitives for the few hot messages we encode and decode by
 * hand (one message per log line: a generic encoder's object graph and copies
 * per message cost more than the line itself). Everything else goes through
 * @grpc/proto-loader. Numbers are JS numbers, exact up to 2^53 like the
 * loader's `longs: Number`.
 */

/** A message that is not valid protobuf (truncated, a bad varint, a field past its end). */
export class ProtoWireError extends Error {
  override readonly name = "ProtoWireError";
}

/** Reads fields from `buf` starting at `pos`; every read checks the end of the buffer. */
export class ProtoReader {
  pos: number;

  constructor(
    readonly buf: Buffer,
    start = 0,
  ) {
    this.pos = start;
  }

  /** An unsigned varint as a number. */
  varint(): number {
    const { buf } = this;
    let lo = 0;
    let shift = 0;
    // Up to 28 bits in plain integer arithmetic (most ids and tags).
    while (shift < 28) {
      const b = this.byte(buf);
      lo |= (b & 0x7f) << shift;
      if (b < 0x80) return lo;
      shift += 7;
    }
    let value = lo;
    let scale = 2 ** 28;
    for (let i = 4; i < 10; i++) {
      const b = this.byte(buf);
      value += (b & 0x7f) * scale;
      if (b < 0x80) return value;
      scale *= 128;
    }
    throw new ProtoWireError("varint longer than 10 bytes");
  }

  /** int64/int32 varint: negatives are 10-byte two's complement. */
  signedVarint(): number {
    const start = this.pos;
    const v = this.varint();
    if (v < 2 ** 63) return v;
    // Rare (before 1970): redo exactly, a double cannot hold 2^64 - n.
    let big = 0n;
    for (let i = start; i < this.pos; i++)
      big |= BigInt((this.buf[i] as number) & 0x7f) << BigInt(7 * (i - start));
    return Number(BigInt.asIntN(64, big));
  }

  /**
   * Reads a length prefix; returns where that field ends. `within`: the end of the enclosing
   * message, when the buffer holds more than that message (many messages, or nested ones).
   */
  lengthEnd(within?: number): number {
    const length = this.varint();
    const end = this.pos + length;
    if (end > this.buf.length) throw new ProtoWireError("field runs past the message");
    if (within !== undefined && end > within) throw new ProtoWireError("field runs past its message");
    return end;
  }

  /** Skips the value of a field with this tag (unknown fields must be skipped, not rejected). */
  skip(tag: number): void {
    switch (tag & 7) {
      case 0:
        this.varint();
        return;
      case 1:
        this.pos += 8;
        break;
      case 2:
        this.pos = this.lengthEnd();
        return;
      case 5:
        this.pos += 4;
        break;
      default:
        throw new ProtoWireError(`unsupported wire type ${tag & 7}`);
    }
    if (this.pos > this.buf.length) throw new ProtoWireError("field runs past the message");
  }

  expectAt(end: number): void {
    if (this.pos !== end) throw new ProtoWireError("field runs past its message");
  }

  private byte(buf: Buffer): number {
    if (this.pos >= buf.length) throw new ProtoWireError("message ends inside a varint");
    return buf[this.pos++] as number;
  }
}

/** Bytes of a varint. */
export function varintBytes(value: number): number {
  // Most values (ids, lengths, epoch seconds) fit 31 bits: shifts stay on V8's small-integer path.
  if (value >= 0 && value <= 0x7fffffff) {
    let v = value | 0;
    let n = 1;
    while (v >= 128) {
      v >>>= 7;
      n++;
    }
    return n;
  }
  // Negative int64 values (seconds before 1970) take ten bytes in two's complement.
  if (value < 0) return 10;
  let n = 1;
  while (value >= 128) {
    value = Math.floor(value / 128);
    n++;
  }
  return n;
}

/** Bytes of a varint field with a one-byte tag; 0 for a zero value (proto3 leaves it out). */
export function varintFieldBytes(value: number): number {
  return value === 0 ? 0 : 1 + varintBytes(value);
}

/** Writes a varint at `p`; returns the position after it. */
export function writeVarint(b: Buffer, p: number, value: number): number {
  if (value >= 0 && value <= 0x7fffffff) {
    let v = value | 0;
    while (v >= 128) {
      b[p++] = (v & 0x7f) | 0x80;
      v >>>= 7;
    }
    b[p++] = v;
    return p;
  }
  if (value < 0) {
    let v = BigInt.asUintN(64, BigInt(value));
    for (let i = 0; i < 9; i++) {
      b[p++] = Number(v & 0x7fn) | 0x80;
      v >>= 7n;
    }
    b[p++] = Number(v);
    return p;
  }
  while (value >= 128) {
    b[p++] = (value % 128) | 0x80;
    value = Math.floor(value / 128);
  }
  b[p++] = value;
  return p;
}

/** Writes a varint field (tag byte + value) unless the value is zero; returns the position after it. */
export function writeVarintField(b: Buffer, p: number, tag: number, value: number): number {
  if (value === 0) return p;
  b[p] = tag;
  return writeVarint(b, p + 1, value);
}

/** The gRPC message prefix: 1 byte compressed flag (0), 4 bytes big-endian length. */
export const GRPC_PREFIX_BYTES = 5;

/** Writes a gRPC message prefix at `p` for an uncompressed message of `length` bytes. */
export function writeGrpcPrefix(b: Buffer, p: number, length: number): number {
  b[p] = 0;
  b.writeUInt32BE(length, p + 1);
  return p + GRPC_PREFIX_BYTES;
}

/*
 * google.protobuf.Timestamp (int64 seconds, int32 nanos in [0, 1e9)) against epoch milliseconds, the
 * form the store, the relay and the wharf-api double keep times in.
 */

/** Whole seconds of an epoch-ms time; floored, so before 1970 the nanos stay positive. */
export function timestampSeconds(ms: number): number {
  return Math.floor(ms / 1000);
}

/** The nanoseconds past `seconds` (= timestampSeconds(ms)), sub-millisecond parts included. */
export function timestampNanos(ms: number, seconds: number): number {
  // Rounding a fraction just below the next second must not give 1e9, which Timestamp forbids.
  return Math.min(Math.round((ms - seconds * 1000) * 1e6), 999_999_999);
}

/** Epoch milliseconds of a Timestamp, to the millisecond (sub-millisecond nanos dropped). */
export function timestampMs(seconds: number, nanos: number): number {
  return seconds * 1000 + Math.floor(nanos / 1e6);
}
