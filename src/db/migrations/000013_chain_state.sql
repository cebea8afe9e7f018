-- Where the rolling re-verification of sealed blocks stands, and the first broken link it found.
CREATE TABLE chain_state (
  id                   smallint PRIMARY KEY DEFAULT 1 CHECK (id = 1),
  recheck_next_block   bigint NOT NULL DEFAULT 1,
  last_pass_started_at timestamptz,
  last_pass_at         timestamptz,
  last_pass_through    bigint NOT NULL DEFAULT 0,
  checked_at           timestamptz,
  broken               jsonb,
  broken_at            timestamptz
);
INSERT INTO chain_state (id) VALUES (1);
