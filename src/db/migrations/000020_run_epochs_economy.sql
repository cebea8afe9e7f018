-- A run carries the scenario it simulates (its economy) and a digest of it, so a resumed run
-- is known to be the same one. Each epoch records its settlement (production, consumption,
-- unmet need), the agents' plan made once from the state after settlement, and the ledger head
-- the plan was made on; the stats already have a column.
ALTER TABLE runs
  ADD COLUMN definition jsonb NOT NULL DEFAULT '{}'::jsonb,
  ADD COLUMN digest text NOT NULL DEFAULT '',
  ADD COLUMN created_by text;

ALTER TABLE epochs
  ADD COLUMN settlement jsonb,
  ADD COLUMN settled_at timestamptz,
  ADD COLUMN ledger_head bigint,
  ADD COLUMN plan jsonb,
  ADD COLUMN planned_at timestamptz;

CREATE INDEX runs_started_at ON runs (started_at);
CREATE INDEX epochs_started_at ON epochs (started_at);
