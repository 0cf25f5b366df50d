-- One row per worker the provisioner was asked for. Rows are never removed:
-- a DELETE sets deleted_at, so "missing builds" can still answer "deleted".
CREATE TABLE provisioner_workers (
  worker_id text PRIMARY KEY,
  name text NOT NULL,
  -- FIFO order of the queue.
  seq bigserial NOT NULL,
  instance text NOT NULL,
  build_ref bigint NOT NULL,
  project_id bigint,
  status text NOT NULL,
  -- The parsed POST /api/worker parameters (a queued build is started from these).
  request jsonb NOT NULL,
  -- Backend kind that runs it ("local", "docker") and the scope that may reconcile it.
  backend text NOT NULL,
  backend_scope text,
  address text,
  -- Why a worker ended: finished, lost or deleted.
  end_reason text,
  message text,
  created_at timestamptz NOT NULL DEFAULT now(),
  queued_at timestamptz NOT NULL DEFAULT now(),
  claimed_at timestamptz,
  started_at timestamptz,
  finished_at timestamptz,
  deleted_at timestamptz
);

-- Idempotency: one live worker per build ref and wharf-api instance.
CREATE UNIQUE INDEX provisioner_workers_live_build
  ON provisioner_workers (instance, build_ref) WHERE deleted_at IS NULL;

CREATE INDEX provisioner_workers_queue
  ON provisioner_workers (seq) WHERE status = 'Queued' AND deleted_at IS NULL;

CREATE INDEX provisioner_workers_build_ref ON provisioner_workers (build_ref);
