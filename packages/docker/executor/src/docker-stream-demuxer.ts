import { type PassThrough, Writable } from "node:stream";

const HEADER_BYTES = 8;
const STDERR = 2;

/**
 * Splits Docker's multiplexed attach stream (frames of an 8-byte header — stream type,
 * 3 zero bytes, uint32 BE length — then the payload) into stdout and stderr.
 *
 * Unlike `docker.modem.demuxStream` it respects backpressure: a frame is acknowledged
 * only once both outputs accepted it, so a step printing gigabytes to a slow reader
 * stalls the container's output instead of growing the worker's memory. Payloads are
 * forwarded as they arrive, without waiting for (or buffering) a whole frame.
 */
export class DockerStreamDemuxer extends Writable {
  private header = Buffer.alloc(0);
  /** Payload bytes of the current frame still to forward, and where to. */
  private remaining = 0;
  private target: PassThrough;

  constructor(
    private readonly stdout: PassThrough,
    private readonly stderr: PassThrough,
  ) {
    super();
    this.target = stdout;
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (err?: Error | null) => void): void {
    const blocked = new Set<PassThrough>();
    let pos = 0;
    while (pos < chunk.length) {
      if (this.remaining === 0) {
        const need = HEADER_BYTES - this.header.length;
        this.header = Buffer.concat([this.header, chunk.subarray(pos, pos + need)]);
        pos += Math.min(need, chunk.length - pos);
        if (this.header.length < HEADER_BYTES) break;
        this.target = this.header[0] === STDERR ? this.stderr : this.stdout;
        this.remaining = this.header.readUInt32BE(4);
        this.header = Buffer.alloc(0);
        continue;
      }
      const take = Math.min(this.remaining, chunk.length - pos);
      // An output ended early (output cut after the exit) drops the rest instead of failing.
      if (!this.target.writableEnded && !this.target.write(chunk.subarray(pos, pos + take)))
        blocked.add(this.target);
      pos += take;
      this.remaining -= take;
    }
    if (blocked.size === 0) {
      callback();
      return;
    }
    void Promise.all([...blocked].map(drained)).then(() => callback());
  }

  override _final(callback: (err?: Error | null) => void): void {
    if (!this.stdout.writableEnded) this.stdout.end();
    if (!this.stderr.writableEnded) this.stderr.end();
    callback();
  }
}

/** Resolves when `stream` wants more data, or can never take any again. */
function drained(stream: PassThrough): Promise<void> {
  if (stream.destroyed || stream.writableEnded) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      stream.off("drain", done);
      stream.off("close", done);
      resolve();
    };
    stream.on("drain", done);
    stream.on("close", done);
  });
}
