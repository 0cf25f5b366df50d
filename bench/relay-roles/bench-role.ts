/*
 * Shared by the relay benchmarks' parent and children. Each child role lives in its own module,
 * loaded only by its own process, so the aggregator child holds what an aggregator loads and not
 * the result store, the worker's server or the wharf-api double.
 */
import type { LiveWorker, RelayTuning } from "@wharf/relay";

/** What a bench child answers over IPC: method name → handler. */
export type Handlers = Record<string, (...args: never[]) => unknown>;

export interface AggregatorRun {
  dbUrl: string;
  apiUrl: string;
  workers: LiveWorker[];
  tuning?: Partial<RelayTuning>;
}
