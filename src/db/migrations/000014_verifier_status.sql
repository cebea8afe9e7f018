-- The drift verifier's latest verdict, written by whichever validator replica holds the verifier
-- lock and read by every replica's /health. checked_at is the time of the snapshot it compared.
CREATE TABLE verifier_status (
  id              smallint PRIMARY KEY DEFAULT 1 CHECK (id = 1),
  ok              boolean NOT NULL,
  settled_through bigint NOT NULL,
  base_id         bigint NOT NULL,
  tail_entries    bigint NOT NULL,
  drift           jsonb NOT NULL DEFAULT '[]'::jsonb,
  drift_count     integer NOT NULL DEFAULT 0,
  checked_at      timestamptz NOT NULL,
  duration_ms     integer NOT NULL,
  verifier        text NOT NULL
);
