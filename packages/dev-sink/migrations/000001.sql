CREATE TABLE dev_builds (
  build_id bigserial PRIMARY KEY,
  status text NOT NULL DEFAULT 'Scheduling',
  status_message text NOT NULL DEFAULT '',
  git_url text,
  git_branch text,
  stage text,
  environment text,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE dev_build_logs (
  log_id bigserial PRIMARY KEY,
  build_id bigint NOT NULL,
  worker_log_id bigint NOT NULL,
  worker_step_id bigint NOT NULL,
  ts timestamptz NOT NULL,
  message text NOT NULL
);
CREATE INDEX dev_build_logs_build ON dev_build_logs (build_id, log_id);
CREATE TABLE dev_build_artifacts (
  artifact_id bigserial PRIMARY KEY,
  build_id bigint NOT NULL,
  file_name text NOT NULL,
  size bigint NOT NULL,
  bytes bytea NOT NULL
);
CREATE INDEX dev_build_artifacts_build ON dev_build_artifacts (build_id);
