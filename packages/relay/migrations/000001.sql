-- Which aggregator replica relays which worker. A lease is taken over only once
-- it expired, so a dead replica's workers move on within one TTL.
CREATE TABLE IF NOT EXISTS relay_lease (
  worker_id text PRIMARY KEY,
  holder text NOT NULL,
  expires_at timestamptz NOT NULL
);

-- Per worker: how far each relay got. Written only after wharf-api acknowledged.
CREATE TABLE IF NOT EXISTS relay_checkpoint (
  worker_id text PRIMARY KEY,
  build_id bigint NOT NULL,
  last_log_id bigint NOT NULL DEFAULT 0,
  -- lines wharf-api acknowledged for this worker: compared with wharf-api's own
  -- count after an interrupted batch to skip the part it already stored
  delivered_lines bigint NOT NULL DEFAULT 0,
  last_event_id bigint NOT NULL DEFAULT 0,
  sent_status text,
  last_artifact_id bigint NOT NULL DEFAULT 0,
  failure_reported boolean NOT NULL DEFAULT false,
  finished_at timestamptz,
  updated_at timestamptz NOT NULL DEFAULT now()
);
