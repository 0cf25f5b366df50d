/**
 * What the kubelet keeps of a container's output: stdout and stderr interleaved in
 * arrival order (as the container runtime's log file does), readable from the start
 * and followable until the container ends.
 */
export class ContainerLog {
  private readonly chunks: Buffer[] = [];
  private readonly followers = new Set<{ write(chunk: Buffer): void; end(): void }>();
  private ended = false;

  append(chunk: Buffer): void {
    this.chunks.push(chunk);
    for (const f of this.followers) f.write(chunk);
  }

  end(): void {
    if (this.ended) return;
    this.ended = true;
    for (const f of this.followers) f.end();
    this.followers.clear();
  }

  get isEnded(): boolean {
    return this.ended;
  }

  contents(): Buffer {
    return Buffer.concat(this.chunks);
  }

  /** Sends what is there now, then every later chunk; `end` once the container ended. Returns an unsubscribe. */
  follow(sink: { write(chunk: Buffer): void; end(): void }): () => void {
    sink.write(this.contents());
    if (this.ended) {
      sink.end();
      return () => {};
    }
    this.followers.add(sink);
    return () => this.followers.delete(sink);
  }
}
