-- The settled horizon, computed by the database instead of taken from the caller. chain_seal,
-- checkpoint_make and verifier_tick trusted the id their caller called settled: a login that sealed
-- past a transaction still in flight left a block that disagreed with the row committed a moment
-- later, a permanent tamper alarm (ledger_blocks is append-only), and a checkpoint made that way
-- built drift into every later one.
--
-- A fence, as src/ledger/integrity/fence.ts raises it, now in SQL: the sequence's last value and
-- every transaction of this database holding a write lock on the ledger. The fence has cleared once
-- those transactions have ended: every id up to it is then committed or never to exist.
-- ledger_horizon() clears what it can, raises a new fence, and returns the highest horizon settled
-- so far; it never waits. That the sequence's advance survives a crash (so that no id below the
-- horizon is handed out again) rests, as before, on the WAL flush the callers make: the fence in
-- fence.ts flushes after reading the sequence, and the write path before it answers. A function
-- cannot flush the WAL, and the WAL writer flushes a partly filled page only for a commit.
-- The three functions keep their signatures; the id they are given is now an upper bound only.

CREATE TABLE ledger_fences (
  id        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  through   bigint NOT NULL,
  writers   text[] NOT NULL,
  raised_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE ledger_settled (
  id         smallint PRIMARY KEY DEFAULT 1 CHECK (id = 1),
  through    bigint NOT NULL,
  settled_at timestamptz NOT NULL DEFAULT now()
);
INSERT INTO ledger_settled (id, through) VALUES (1, 0);

CREATE FUNCTION ledger_horizon() RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
  settled bigint;
  cleared bigint;
  seq bigint;
  busy text[];
BEGIN
  -- In this order: the sequence, then the writers (a writer that took an id before the first read
  -- still holds its lock at the second).
  seq := coalesce(pg_sequence_last_value('public.ledger_id_seq'::regclass), 0);
  -- One caller at a time advances it; another finds the row taken and reads what is settled.
  SELECT s.through INTO settled FROM ledger_settled s WHERE s.id = 1 FOR UPDATE SKIP LOCKED;
  IF NOT FOUND THEN
    RETURN (SELECT s.through FROM ledger_settled s WHERE s.id = 1);
  END IF;
  SELECT max(f.through) INTO cleared FROM ledger_fences f
   WHERE NOT EXISTS (SELECT 1 FROM pg_locks k WHERE k.virtualtransaction = ANY (f.writers));
  settled := greatest(settled, coalesce(cleared, 0));
  DELETE FROM ledger_fences f WHERE f.through <= settled;
  SELECT coalesce(array_agg(DISTINCT k.virtualtransaction), '{}') INTO busy FROM pg_locks k
   WHERE k.locktype = 'relation' AND k.database = (SELECT d.oid FROM pg_database d WHERE d.datname = current_database())
     AND k.relation = 'public.ledger'::regclass AND k.granted
     AND k.mode IN ('RowExclusiveLock', 'ShareRowExclusiveLock', 'ExclusiveLock', 'AccessExclusiveLock')
     AND k.pid IS DISTINCT FROM pg_backend_pid();
  IF seq > settled THEN
    IF cardinality(busy) = 0 THEN
      settled := seq;
    ELSIF NOT EXISTS (SELECT 1 FROM ledger_fences f WHERE f.through >= seq AND f.writers @> busy) THEN
      INSERT INTO ledger_fences (through, writers) VALUES (seq, busy);
      -- A writer that never ends must not make the list grow without bound.
      DELETE FROM ledger_fences f WHERE f.id NOT IN (SELECT g.id FROM ledger_fences g ORDER BY g.id DESC LIMIT 8);
    END IF;
  END IF;
  UPDATE ledger_settled s SET through = settled, settled_at = now() WHERE s.id = 1 AND s.through < settled;
  RETURN settled;
END
$$;

-- The old bodies stay, under names only the owner's functions call.
ALTER FUNCTION chain_seal(bigint, integer, integer, boolean) RENAME TO chain_seal_through;
ALTER FUNCTION checkpoint_make(bigint, text) RENAME TO checkpoint_make_at;
ALTER FUNCTION verifier_tick(text, bigint, bigint) RENAME TO verifier_tick_at;
REVOKE EXECUTE ON FUNCTION chain_seal_through(bigint, integer, integer, boolean), checkpoint_make_at(bigint, text),
  verifier_tick_at(text, bigint, bigint) FROM PUBLIC;
DO $$
BEGIN
  IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'gridgov_app') THEN
    REVOKE EXECUTE ON FUNCTION chain_seal_through(bigint, integer, integer, boolean), checkpoint_make_at(bigint, text),
      verifier_tick_at(text, bigint, bigint) FROM gridgov_app;
    REVOKE ALL ON ledger_fences, ledger_settled FROM gridgov_app;
    GRANT SELECT ON ledger_settled TO gridgov_app;
  END IF;
END
$$;

-- Seals up to p_through or the settled horizon, whichever is lower.
CREATE FUNCTION chain_seal(p_through bigint, p_block_size integer, p_max_rows integer, p_wait boolean)
RETURNS TABLE (blocks integer, sealed_rows integer, sealed_through bigint, more boolean)
LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
  SELECT * FROM chain_seal_through(least(p_through, ledger_horizon()), p_block_size, p_max_rows, p_wait)
$$;

-- A checkpoint at p_through, which must be settled: it waits up to 5 s for the writers below it
-- to end, then an id above the settled horizon is refused.
CREATE FUNCTION checkpoint_make(p_through bigint, p_made_by text) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
  settled bigint := ledger_horizon();
  deadline timestamptz := clock_timestamp() + interval '5 seconds';
BEGIN
  WHILE p_through > settled AND clock_timestamp() < deadline LOOP
    PERFORM pg_sleep(0.02);
    settled := ledger_horizon();
  END LOOP;
  IF p_through > settled THEN
    RAISE EXCEPTION 'ledger id % is not settled yet (settled through %): a transaction below it may still commit', p_through, settled
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  RETURN checkpoint_make_at(p_through, p_made_by);
END
$$;

-- The drift verdict, with the base moved no further than the settled horizon.
CREATE FUNCTION verifier_tick(p_verifier text, p_settled bigint, p_checkpoint_every bigint) RETURNS jsonb
LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
  SELECT verifier_tick_at(p_verifier, least(p_settled, ledger_horizon()), p_checkpoint_every)
$$;

REVOKE EXECUTE ON FUNCTION ledger_horizon(), chain_seal(bigint, integer, integer, boolean), checkpoint_make(bigint, text),
  verifier_tick(text, bigint, bigint) FROM PUBLIC;
DO $$
BEGIN
  IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'gridgov_app') THEN
    GRANT EXECUTE ON FUNCTION ledger_horizon(), chain_seal(bigint, integer, integer, boolean), checkpoint_make(bigint, text),
      verifier_tick(text, bigint, bigint) TO gridgov_app;
  END IF;
END
$$;
