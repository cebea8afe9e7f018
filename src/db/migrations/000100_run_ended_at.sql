-- A run that ends (its last epoch done, stopped, or failed) says so, and when; a resumed run is
-- running again. status: running | finished | stopped | failed.
ALTER TABLE runs ADD COLUMN ended_at timestamptz;
UPDATE runs SET status = 'running' WHERE status NOT IN ('running', 'finished', 'stopped', 'failed');
ALTER TABLE runs ADD CONSTRAINT runs_status_known CHECK (status IN ('running', 'finished', 'stopped', 'failed'));
