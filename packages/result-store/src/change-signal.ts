/**
 * Wakes every waiter when something new is available. Waiters re-check state after waking, so a
 * notify with nobody waiting is simply lost (no queue grows).
 */
export class ChangeSignal {
  private wake: () => void = () => {};
  private next: Promise<void> = this.fresh();

  private fresh(): Promise<void> {
    return new Promise<void>((resolve) => {
      this.wake = resolve;
    });
  }

  notify(): void {
    const wake = this.wake;
    this.next = this.fresh();
    wake();
  }

  /** Resolves on the next notify, or when `signal` aborts. */
  wait(signal?: AbortSignal): Promise<void> {
    const next = this.next;
    if (!signal) return next;
    if (signal.aborted) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const onAbort = () => resolve();
      signal.addEventListener("abort", onAbort, { once: true });
      void next.then(() => {
        signal.removeEventListener("abort", onAbort);
        resolve();
      });
    });
  }
}
