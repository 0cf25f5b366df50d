import { GRPC_PREFIX_BYTES } from "@wharf/proto";
import { GrpcStatus } from "./grpc-answer.js";

/** A request body that is not a stream of messages we take; `code` is the gRPC status to answer. */
export class GrpcFramingError extends Error {
  override readonly name = "GrpcFramingError";
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
  }
}

/** Gets one message: its bytes are `buf[start, end)`; `buf` may be shared with other messages. */
export type MessageHandler = (buf: Buffer, start: number, end: number) => void;

/**
 * Cuts a gRPC request body (DATA chunks as HTTP/2 hands them over) into its
 * length-prefixed messages. A chunk usually holds many whole messages, which are
 * handed over in place, without a copy; only a message split over chunks is
 * gathered into a buffer of its own.
 */
export class GrpcMessageSplitter {
  /** Bytes of a prefix split over chunks (fewer than 5 seen so far). */
  private readonly prefix = Buffer.alloc(GRPC_PREFIX_BYTES);
  private prefixFill = 0;
  /** The message being gathered across chunks, and how much of it has arrived. */
  private partial: Buffer | undefined;
  private partialFill = 0;

  constructor(
    private readonly onMessage: MessageHandler,
    /** Larger messages are refused (RESOURCE_EXHAUSTED) rather than buffered; gRPC's default is 4 MiB. */
    private readonly maxMessageBytes = 4 * 1024 * 1024,
  ) {}

  /** True when the body so far ends on a message boundary. */
  get atBoundary(): boolean {
    return this.prefixFill === 0 && this.partial === undefined;
  }

  /** Hands over every message the chunk completes; throws GrpcFramingError or what onMessage throws. */
  push(chunk: Buffer): void {
    let pos = 0;
    const end = chunk.length;
    if (this.partial) pos = this.fillPartial(chunk, pos);
    while (pos < end) {
      if (this.prefixFill > 0 || end - pos < GRPC_PREFIX_BYTES) {
        // A prefix split over chunks: gather its bytes first.
        const take = Math.min(GRPC_PREFIX_BYTES - this.prefixFill, end - pos);
        chunk.copy(this.prefix, this.prefixFill, pos, pos + take);
        this.prefixFill += take;
        pos += take;
        if (this.prefixFill < GRPC_PREFIX_BYTES) return;
        this.prefixFill = 0;
        this.partial = Buffer.allocUnsafe(this.messageLength(this.prefix, 0));
        this.partialFill = 0;
        pos = this.fillPartial(chunk, pos);
        continue;
      }
      const length = this.messageLength(chunk, pos);
      const start = pos + GRPC_PREFIX_BYTES;
      if (start + length <= end) {
        pos = start + length;
        this.onMessage(chunk, start, pos);
      } else {
        this.partial = Buffer.allocUnsafe(length);
        this.partialFill = 0;
        pos = this.fillPartial(chunk, start);
      }
    }
  }

  /** Reads a prefix at `p`: checks the flag and size, returns the message length. */
  private messageLength(buf: Buffer, p: number): number {
    // We announce no grpc-encoding, so a compressed message is one we cannot read.
    if (buf[p] !== 0) {
      throw new GrpcFramingError(
        GrpcStatus.UNIMPLEMENTED,
        buf[p] === 1 ? "compressed messages are not supported" : `bad message flag ${buf[p]}`,
      );
    }
    const length = buf.readUInt32BE(p + 1);
    if (length > this.maxMessageBytes) {
      throw new GrpcFramingError(
        GrpcStatus.RESOURCE_EXHAUSTED,
        `message of ${length} bytes is larger than ${this.maxMessageBytes}`,
      );
    }
    return length;
  }

  /** Copies what the chunk has of the split message; hands it over when whole. Returns the new position. */
  private fillPartial(chunk: Buffer, pos: number): number {
    const partial = this.partial as Buffer;
    const take = Math.min(partial.length - this.partialFill, chunk.length - pos);
    chunk.copy(partial, this.partialFill, pos, pos + take);
    this.partialFill += take;
    if (this.partialFill === partial.length) {
      this.partial = undefined;
      this.onMessage(partial, 0, partial.length);
    }
    return pos + take;
  }
}
