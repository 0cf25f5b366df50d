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
        // A second Ctrl-C means "now". A repeated SIGTERM does not (another provisioner replica
        // or a supervisor asking again): the first one's grace is still running, and leaving
        // the listener off would let SIGTERM's default action kill the process mid-way.
        if (sig === "SIGINT") {
          this.log.warn({ sig }, "second interrupt, exiting now");
          process.exit(130);
        }
        this.log.info({ sig }, "already shutting down");
        return;
      }
      this.log.info({ sig }, "shutting down");
      void this.shutdown().then(() => process.exit(exitCode));
    };
    process.on("SIGTERM", onSignal);
    process.on("SIGINT", onSignal);
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
