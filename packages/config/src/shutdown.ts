import type { Logger } from "pino";

type Closer = () => Promise<void> | void;

/**
 * The one graceful-shutdown path. Closers run in reverse registration order (last
 * started, first stopped) on SIGTERM/SIGINT or `shutdown()`. A second signal, or the
 * grace period running out, exits at once.
 */
export class GracefulShutdown {
  private readonly closers: { name: string; close: Closer }[] = [];
  private running: Promise<void> | null = null;
  private readonly abort = new AbortController();

  constructor(
    private readonly log: Logger,
    private readonly graceMs = 10_000,
  ) {}

  /** Aborted as soon as shutdown begins; pass it to long-running loops. */
  get signal(): AbortSignal {
    return this.abort.signal;
  }

  add(name: string, close: Closer): void {
    this.closers.push({ name, close });
  }

  /** Installs SIGTERM/SIGINT handlers that call `shutdown` and then exit with `exitCode`. */
  handleSignals(exitCode = 0): void {
    const onSignal = (sig: NodeJS.Signals) => {
      if (this.running) {
        this.log.warn({ sig }, "second signal, exiting now");
        process.exit(130);
      }
      this.log.info({ sig }, "shutting down");
      void this.shutdown().then(() => process.exit(exitCode));
    };
    process.once("SIGTERM", onSignal);
    process.once("SIGINT", onSignal);
  }

  shutdown(): Promise<void> {
    this.running ??= this.runClosers();
    return this.running;
  }

  private async runClosers(): Promise<void> {
    this.abort.abort();
    const timer = setTimeout(() => {
      this.log.error({ graceMs: this.graceMs }, "graceful shutdown took too long, exiting");
      process.exit(1);
    }, this.graceMs);
    timer.unref();
    for (const { name, close } of [...this.closers].reverse()) {
      try {
        await close();
      } catch (err) {
        this.log.error({ err, name }, "error while closing");
      }
    }
    clearTimeout(timer);
  }
}
