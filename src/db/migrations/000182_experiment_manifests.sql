-- The manifest of each experiment: what went into it (command line, scenarios with their hash and
-- contents, seeds, strategies, models and their settings, a hash of each prompt template, the
-- validator and package versions), recorded when the experiment is first defined and written to
-- its --out folder as manifest.json. `gridgov replay` and `--fork` compare a run's manifest with
-- the present and refuse when an input changed. Written by the owning login, as the rest of the
-- experiment's record.
CREATE TABLE experiment_manifests (
  experiment_id uuid PRIMARY KEY REFERENCES experiments (id),
  manifest jsonb NOT NULL,
  recorded_at timestamptz NOT NULL DEFAULT now()
);
