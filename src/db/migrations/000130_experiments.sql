-- Experiments: sweeps of isolated episodes, each (scenario, strategy, seed) run in a database of
-- its own cloned from a migrated template. These tables are the experiment's record, kept in the
-- database that DATABASE_URL names (or the embedded one), beside the queue (pg-boss, schema
-- pgboss) that hands episodes to workers on any machine. They say which episodes finished, so a
-- resumed or joined experiment never runs a finished episode again. No world table is touched.
CREATE TABLE experiments (
  id uuid PRIMARY KEY,
  command text NOT NULL,
  -- The scenarios (definitions, not file names), strategies, seeds, epochs and fork point:
  -- everything a worker on another machine needs.
  spec jsonb NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  finished_at timestamptz
);

CREATE TABLE experiment_episodes (
  episode_id uuid PRIMARY KEY,
  experiment_id uuid NOT NULL REFERENCES experiments (id),
  ordinal integer NOT NULL,
  scenario text NOT NULL,
  strategy text NOT NULL,
  seed text NOT NULL,
  status text NOT NULL DEFAULT 'queued' CHECK (status IN ('queued', 'running', 'finished', 'failed')),
  -- Each start of the episode is a new attempt on a fresh database; only the current attempt may
  -- record progress or the result (a worker that lost its lease is fenced out).
  attempt integer NOT NULL DEFAULT 0,
  database text,
  worker text,
  run_id uuid,
  epochs_done integer NOT NULL DEFAULT 0,
  cost_usd numeric NOT NULL DEFAULT 0 CHECK (cost_usd >= 0),
  error text,
  started_at timestamptz,
  finished_at timestamptz,
  UNIQUE (experiment_id, ordinal)
);

CREATE INDEX experiment_episodes_run ON experiment_episodes (run_id);
