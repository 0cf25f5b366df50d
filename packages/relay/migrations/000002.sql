-- Per relayed build: what the build page and the build list show once the worker is
-- released (wharf-api keeps lines and the build's status, but no steps). Written from the
-- worker's build summary and status events while the build is relayed; rows are the
-- worker's truth, so any replica may write them and a repeated write changes nothing.
CREATE TABLE IF NOT EXISTS relay_build (
  build_ref text PRIMARY KEY,
  worker_id text NOT NULL,
  status text NOT NULL,
  finished boolean NOT NULL DEFAULT false,
  message text NOT NULL DEFAULT '',
  started_at timestamptz,
  finished_at timestamptz,
  -- what wharf-api says of the build (GET /api/build/{id}): for the build list
  git_branch text,
  project_id bigint,
  -- when this aggregator first relayed the build: the build list shows the newest first
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX IF NOT EXISTS relay_build_created_at ON relay_build (created_at DESC);

-- One row per step of a relayed build: the step table of the build page.
CREATE TABLE IF NOT EXISTS relay_build_step (
  build_ref text NOT NULL REFERENCES relay_build (build_ref) ON DELETE CASCADE,
  step_id integer NOT NULL,
  stage text NOT NULL,
  name text NOT NULL,
  status text NOT NULL,
  attempts integer NOT NULL DEFAULT 0,
  exit_code integer,
  started_at timestamptz,
  finished_at timestamptz,
  PRIMARY KEY (build_ref, step_id)
);
