-- The hash chain over the ledger, sealed asynchronously in blocks so that /execute never waits
-- for it. Block n covers every ledger id in (last_id of block n-1, last_id]; its hash chains the
-- previous block's hash with the range and the SHA-256 of its rows' digests in id order.
-- row_ids and row_fingerprints (the first 8 bytes of each row digest) only serve to name the row
-- that broke a block; the chain's strength comes from the full digests.
CREATE TABLE ledger_blocks (
  block_no         bigint PRIMARY KEY CHECK (block_no >= 1),
  first_id         bigint NOT NULL,
  last_id          bigint NOT NULL UNIQUE,
  row_count        integer NOT NULL CHECK (row_count >= 1),
  row_ids          bigint[] NOT NULL,
  row_fingerprints bytea NOT NULL,
  content_hash     bytea NOT NULL,
  prev_hash        bytea NOT NULL,
  hash             bytea NOT NULL,
  sealed_at        timestamptz NOT NULL DEFAULT now(),
  CHECK (first_id <= last_id)
);

CREATE FUNCTION ledger_blocks_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP USING ERRCODE = 'insufficient_privilege';
END
$$;
CREATE TRIGGER ledger_blocks_append_only BEFORE UPDATE OR DELETE ON ledger_blocks
  FOR EACH ROW EXECUTE FUNCTION ledger_blocks_refuse_change();
CREATE TRIGGER ledger_blocks_no_truncate BEFORE TRUNCATE ON ledger_blocks
  FOR EACH STATEMENT EXECUTE FUNCTION ledger_blocks_refuse_change();
