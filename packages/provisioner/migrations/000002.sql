-- Every change of a worker row is announced on the channel wharf_workers (payload empty; the
-- listener reads what it needs): other replicas' schedulers claim a freed slot at once, and a
-- watcher's GET /api/worker?wait= answers. Per row, so a claim that took nothing says nothing;
-- Postgres folds identical notifications of one transaction into one.
-- (The body is on one line: migrations are split into statements at a ';' ending a line.)
CREATE FUNCTION provisioner_workers_changed() RETURNS trigger AS $$
  BEGIN PERFORM pg_notify('wharf_workers', ''); RETURN NULL; END
$$ LANGUAGE plpgsql;

CREATE TRIGGER provisioner_workers_notify
  AFTER INSERT OR UPDATE OR DELETE ON provisioner_workers
  FOR EACH ROW EXECUTE FUNCTION provisioner_workers_changed();
