-- Participants and the resources they trade. `world` is the one system actor: the source and sink
-- of all supply, so the ledger is double-entry and every resource sums to zero.
CREATE TABLE actors (
  id         uuid PRIMARY KEY,
  name       text NOT NULL UNIQUE CHECK (length(name) BETWEEN 1 AND 200),
  kind       text NOT NULL CHECK (kind IN ('node', 'agent', 'system')),
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX actors_single_system ON actors (kind) WHERE kind = 'system';
INSERT INTO actors (id, name, kind) VALUES ('00000000-0000-0000-0000-000000000000', 'world', 'system');

CREATE TABLE resources (
  name text PRIMARY KEY CHECK (name ~ '^[a-z][a-z0-9_-]{0,62}$'),
  unit text NOT NULL DEFAULT ''
);
