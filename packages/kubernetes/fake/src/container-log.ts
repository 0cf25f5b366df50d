/** Longest entry the container runtime writes; a longer line is split into partial entries (containerd's default). */
export const MAX_LOG_ENTRY = 16 * 1024;

/** One entry of the runtime's log file: a whole line (ending in "\n") or a partial one. */
interface LogEntry {
  /** When the runtime read it, as the kubelet prints it: RFC3339 with 9 fraction digits. */
  time: string;
  content: Buffer;
}

export interface LogSink {
  write(chunk: Buffer): void;
  end(): void;
}

export interface LogReadOptions {
  /** `timestamps=true`: each line starts with the runtime's timestamp and a space. */
  timestamps?: boolean;
  /** `sinceTime`: only entries read at or after this time (RFC3339). */
  sinceTime?: string;
}

/** `2006-01-02T15:04:05.000000000Z07:00`, the kubelet's fixed-width RFC3339Nano. */
export function logTimestamp(date = new Date()): string {
  return date.toISOString().replace(/\.(\d{3})Z$/, ".$1000000Z");
}

const NL = 0x0a;

interface RenderState {
  timestamps: boolean;
  atLineStart: boolean;
  since?: number;
}

function renderState(options: LogReadOptions): RenderState {
  const since = options.sinceTime ? Date.parse(options.sinceTime) : undefined;
  return {
    timestamps: options.timestamps ?? false,
    atLineStart: true,
    ...(since !== undefined && Number.isFinite(since) ? { since } : {}),
  };
}

/**
 * What the kubelet keeps of a container's output, modelled on the CRI log file the container
 * runtime writes: stdout and stderr interleaved in arrival order, cut into lines, each with
 * the time it was read. A line is written once its newline arrives; one longer than
 * MAX_LOG_ENTRY is written in partial entries; output left without a newline when the
 * container ends becomes a last line (with "\n", as the kubelet serves it). Readable from the
 * start and followable until the container ends; with `timestamps` every line (not each
 * partial entry) is prefixed with its time, as the kubelet does.
 */
export class ContainerLog {
  private readonly entries: LogEntry[] = [];
  private pending = Buffer.alloc(0);
  private readonly followers = new Map<LogSink, RenderState>();
  private ended = false;

  append(chunk: Buffer): void {
    if (this.ended) return;
    this.pending = Buffer.concat([this.pending, chunk]);
    for (;;) {
      const nl = this.pending.indexOf(NL);
      if (nl >= 0 && nl < MAX_LOG_ENTRY) {
        this.write(this.pending.subarray(0, nl + 1));
        this.pending = this.pending.subarray(nl + 1);
      } else if (this.pending.length >= MAX_LOG_ENTRY) {
        this.write(this.pending.subarray(0, MAX_LOG_ENTRY));
        this.pending = this.pending.subarray(MAX_LOG_ENTRY);
      } else {
        break;
      }
    }
  }

  private write(content: Buffer): void {
    const entry = { time: logTimestamp(), content: Buffer.from(content) };
    this.entries.push(entry);
    for (const [sink, state] of this.followers) sink.write(this.render([entry], state));
  }

  /**
   * The container ended: the rest becomes a last line, and followers' bodies end. `trailer`
   * is what the kubelet then writes into a followed body that was already answered 200
   * (its error text when the container was removed while followed).
   */
  end(trailer?: string): void {
    if (this.ended) return;
    if (this.pending.length > 0) this.write(Buffer.concat([this.pending, Buffer.from("\n")]));
    this.pending = Buffer.alloc(0);
    this.ended = true;
    for (const sink of this.followers.keys()) {
      if (trailer) sink.write(Buffer.from(trailer));
      sink.end();
    }
    this.followers.clear();
  }

  get isEnded(): boolean {
    return this.ended;
  }

  private render(entries: LogEntry[], state: RenderState): Buffer {
    const parts: Buffer[] = [];
    for (const e of entries) {
      if (state.since !== undefined && Date.parse(e.time) < state.since) continue;
      if (state.timestamps && state.atLineStart) parts.push(Buffer.from(`${e.time} `));
      parts.push(e.content);
      state.atLineStart = e.content[e.content.length - 1] === NL;
    }
    return Buffer.concat(parts);
  }

  /** What the kubelet serves now (the lines written so far). */
  contents(options: LogReadOptions = {}): Buffer {
    return this.render(this.entries, renderState(options));
  }

  /** Sends what is there now, then every later line; `end` once the container ended. Returns an unsubscribe. */
  follow(sink: LogSink, options: LogReadOptions = {}): () => void {
    const state = renderState(options);
    sink.write(this.render(this.entries, state));
    if (this.ended) {
      sink.end();
      return () => {};
    }
    this.followers.set(sink, state);
    return () => this.followers.delete(sink);
  }
}
