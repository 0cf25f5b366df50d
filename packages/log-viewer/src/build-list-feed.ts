import type { StepStatus } from "@wharf/result-store";
import type { BuildList, BuildListEntry } from "./build-list-routes.js";
import { pause } from "./build-log-source.js";

/** What one open build list asks for. */
export interface BuildListQuery {
  statuses: StepStatus[];
  limit: number;
}

/** What a page is sent: the `GET /api/builds` answer. */
export interface BuildListMessage {
  builds: BuildListEntry[];
}

interface Subscriber {
  /** Called with the list whenever it changed, and once at first. */
  send(list: BuildListMessage): void;
}

interface Poll {
  query: BuildListQuery;
  subscribers: Set<Subscriber>;
  last: { json: string; list: BuildListMessage } | undefined;
}

/**
 * Pushes the build list to open pages (`GET /api/builds?follow=true`) instead of every page
 * asking every few seconds: one query per `pollMs` for each distinct filter that has a page
 * open, whatever the number of pages, and a page hears only of changes. The list is read from
 * the database, not from this process's relays, so builds relayed by another aggregator sharing
 * it show up too. A query that fails is tried again at the next round (the pages keep what
 * they have); polls stop when their last page leaves.
 */
export class BuildListFeed {
  private readonly polls = new Map<string, Poll>();
  private readonly stopped = new AbortController();

  constructor(
    private readonly builds: BuildList,
    private readonly pollMs: number,
    private readonly onError: (err: unknown) => void = () => {},
  ) {}

  /** Sends the list for `query` now and on every change until `signal` aborts. */
  subscribe(query: BuildListQuery, send: (list: BuildListMessage) => void, signal: AbortSignal): void {
    const key = JSON.stringify([[...query.statuses].sort(), query.limit]);
    let poll = this.polls.get(key);
    const subscriber = { send };
    if (!poll) {
      poll = { query, subscribers: new Set(), last: undefined };
      this.polls.set(key, poll);
      void this.run(key, poll);
    } else if (poll.last !== undefined) send(poll.last.list);
    poll.subscribers.add(subscriber);
    const current = poll;
    signal.addEventListener(
      "abort",
      () => {
        current.subscribers.delete(subscriber);
        if (current.subscribers.size === 0 && this.polls.get(key) === current) this.polls.delete(key);
      },
      { once: true },
    );
  }

  /** Ends every poll (the server is closing). */
  close(): void {
    this.stopped.abort();
    this.polls.clear();
  }

  private async run(key: string, poll: Poll): Promise<void> {
    while (this.polls.get(key) === poll && !this.stopped.signal.aborted) {
      try {
        const list = { builds: await this.builds.recent(poll.query) };
        const json = JSON.stringify(list);
        if (json !== poll.last?.json) {
          poll.last = { json, list };
          for (const s of poll.subscribers) s.send(list);
        }
      } catch (err) {
        this.onError(err);
      }
      await pause(this.pollMs, this.stopped.signal);
    }
  }
}
