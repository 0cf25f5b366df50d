/** What the relay counts; the service maps these onto Prometheus counters. */
export type RelayCounter =
  | "log_lines_delivered"
  | "log_batches_delivered"
  | "log_lines_reconciled"
  | "statuses_delivered"
  | "artifacts_delivered"
  | "artifact_bytes_delivered"
  | "delivery_retries"
  | "workers_finished"
  | "workers_failed"
  | "leases_lost"
  | "relays_refused";

export interface RelayMetrics {
  count(counter: RelayCounter, n?: number): void;
  /**
   * A build's first log lines were acknowledged by wharf-api, `seconds` after wharf-api
   * triggered it (its directory's clock against ours). Optional: counters alone do not need it.
   */
  firstLine?(instance: string, seconds: number): void;
}

export const noopRelayMetrics: RelayMetrics = { count() {} };
