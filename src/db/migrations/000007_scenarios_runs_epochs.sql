-- Scenarios seeded into this database; their definition carries settings such as default_credit.
CREATE TABLE scenarios (
  name       text PRIMARY KEY,
  definition jsonb NOT NULL,
  seeded_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE runs (
  id         uuid PRIMARY KEY,
  scenario   text NOT NULL,
  seed       text NOT NULL,
  strategy   text NOT NULL,
  started_at timestamptz NOT NULL DEFAULT now(),
  status     text NOT NULL DEFAULT 'running'
);

CREATE TABLE epochs (
  run_id      uuid NOT NULL REFERENCES runs (id),
  epoch       integer NOT NULL CHECK (epoch >= 0),
  stats       jsonb NOT NULL DEFAULT '{}'::jsonb,
  started_at  timestamptz NOT NULL DEFAULT now(),
  finished_at timestamptz,
  PRIMARY KEY (run_id, epoch)
);
