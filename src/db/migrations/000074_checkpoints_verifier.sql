-- Checkpoints and the drift verdict are computed by the database from the ledger, never handed
-- in by a client: the application role may ask for them, but cannot write a checkpoint's rows or
-- a verdict of its own. A wrong settled horizon from a caller can at worst raise a false alarm
-- (a late entry left out of a checkpoint shows as drift), never hide one.

-- SHA-256 over a checkpoint's non-zero rows, one "actor resource amount" line each, ordered by
-- uuid bytes then resource name byte-wise, so that it does not depend on the collation.
CREATE FUNCTION checkpoint_digest(p_ledger_id bigint) RETURNS text LANGUAGE sql STABLE AS $$
  SELECT encode(sha256(convert_to(coalesce(string_agg(actor_id::text || ' ' || resource || ' ' || amount::text, E'\n'
                ORDER BY actor_id, resource COLLATE "C"), ''), 'UTF8')), 'hex')
    FROM checkpoint_balances WHERE ledger_id = p_ledger_id AND amount <> 0
$$;

-- The circulating amount per resource (every balance but world's), and whether each resource
-- sums to zero over everyone, world included.
CREATE FUNCTION checkpoint_supply(p_ledger_id bigint) RETURNS TABLE (supply jsonb, balanced boolean) LANGUAGE sql STABLE AS $$
  SELECT coalesce(jsonb_object_agg(r.name, trim_scale(coalesce(s.circulating, 0))::text), '{}'::jsonb),
         coalesce(bool_and(coalesce(s.total, 0) = 0), true)
    FROM resources r LEFT JOIN (
      SELECT cb.resource, sum(cb.amount) FILTER (WHERE a.kind <> 'system') AS circulating, sum(cb.amount) AS total
        FROM checkpoint_balances cb JOIN actors a ON a.id = cb.actor_id
       WHERE cb.ledger_id = p_ledger_id GROUP BY cb.resource) s ON s.resource = r.name
$$;

-- Writes the checkpoints row for balance rows already inserted; refuses one whose supply does not
-- sum to zero. For the owner's own replays (rehydrate); the application role cannot run it.
CREATE FUNCTION checkpoint_finish(p_ledger_id bigint, p_entries bigint, p_made_by text) RETURNS void
LANGUAGE plpgsql SET search_path = public, pg_temp AS $$
DECLARE
  s record;
BEGIN
  SELECT * INTO s FROM checkpoint_supply(p_ledger_id);
  IF NOT s.balanced THEN
    RAISE EXCEPTION 'the balances at ledger id % do not sum to zero per resource', p_ledger_id USING ERRCODE = 'GG015';
  END IF;
  INSERT INTO checkpoints (ledger_id, balances_digest, supply, entries, made_by, last_executed_at)
  VALUES (p_ledger_id, checkpoint_digest(p_ledger_id), s.supply, p_entries, p_made_by,
          (SELECT l.executed_at FROM ledger l WHERE l.id <= p_ledger_id ORDER BY l.id DESC LIMIT 1));
END
$$;
REVOKE EXECUTE ON FUNCTION checkpoint_finish(bigint, bigint, text) FROM PUBLIC;

-- A checkpoint at p_through, replayed set-based from the previous checkpoint plus the entries
-- after it; p_through must be settled (src/ledger/fence.ts). Idempotent: an existing checkpoint
-- at that id stays as it is. Returns p_through.
CREATE FUNCTION checkpoint_make(p_through bigint, p_made_by text) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
  prev_id bigint;
  prev_entries bigint;
  moves numeric;
BEGIN
  IF p_made_by NOT IN ('auto', 'manual') THEN
    RAISE EXCEPTION 'made_by: auto or manual' USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF p_through IS NULL OR p_through < 1 OR p_through > coalesce(pg_sequence_last_value('ledger_id_seq'::regclass), 0) THEN
    RAISE EXCEPTION 'no ledger id % to checkpoint at', p_through USING ERRCODE = 'invalid_parameter_value';
  END IF;
  PERFORM pg_advisory_xact_lock(4711000010);
  IF EXISTS (SELECT 1 FROM checkpoints c WHERE c.ledger_id = p_through) THEN
    RETURN p_through;
  END IF;
  SELECT c.ledger_id, c.entries INTO prev_id, prev_entries FROM checkpoints c WHERE c.ledger_id < p_through ORDER BY c.ledger_id DESC LIMIT 1;
  WITH agg AS (
    SELECT p.actor, p.resource, sum(p.amount) AS amount, max(p.last_id) AS last_id, sum(p.moves) AS moves FROM (
      SELECT cb.actor_id AS actor, cb.resource, cb.amount, cb.last_ledger_id AS last_id, 0 AS moves
        FROM checkpoint_balances cb WHERE cb.ledger_id = prev_id
      UNION ALL
      SELECT l.actor_from, l.resource, -sum(l.amount), max(l.id), count(*) FROM ledger l
       WHERE l.id > coalesce(prev_id, 0) AND l.id <= p_through GROUP BY l.actor_from, l.resource
      UNION ALL
      SELECT l.actor_to, l.resource, sum(l.amount), max(l.id), count(*) FROM ledger l
       WHERE l.id > coalesce(prev_id, 0) AND l.id <= p_through GROUP BY l.actor_to, l.resource
    ) AS p GROUP BY p.actor, p.resource
  ), inserted AS (
    INSERT INTO checkpoint_balances (ledger_id, actor_id, resource, amount, last_ledger_id)
    SELECT p_through, a.actor, a.resource, a.amount, a.last_id FROM agg a WHERE a.amount <> 0
    RETURNING 1
  )
  SELECT coalesce(sum(a.moves), 0) INTO moves FROM agg a, (SELECT count(*) FROM inserted) AS n;
  PERFORM checkpoint_finish(p_through, coalesce(prev_entries, 0) + (moves / 2)::bigint, p_made_by);
  RETURN p_through;
END
$$;

-- The balances the ledger implies at base_id, kept by verifier_tick so that each tick adds only the
-- entries settled since the last one, instead of everything since the newest checkpoint.
CREATE TABLE verifier_base (
  actor_id uuid NOT NULL,
  resource text NOT NULL,
  amount   numeric(30, 6) NOT NULL,
  PRIMARY KEY (actor_id, resource)
);
CREATE TABLE verifier_base_head (
  id      smallint PRIMARY KEY DEFAULT 1 CHECK (id = 1),
  base_id bigint NOT NULL
);

-- One drift check behind /health, or NULL when another replica holds the verifier lock. Makes an
-- automatic checkpoint once p_checkpoint_every ids have settled past the newest, moves the base
-- (verifier_base) to the settled horizon p_settled, then compares, in one statement and hence one
-- snapshot, every balance row with the base plus every entry after it: balances and ledger rows
-- are written by the same transactions, so in one snapshot they agree exactly, whatever is in
-- flight. The cost is the balance rows plus the entries since the last tick. Stores the verdict
-- and returns it.
CREATE FUNCTION verifier_tick(p_verifier text, p_settled bigint, p_checkpoint_every bigint) RETURNS jsonb
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
  started timestamptz := clock_timestamp();
  checked timestamptz;
  latest bigint;
  base bigint;
  settled bigint;
  made bigint;
  result record;
  verdict jsonb;
BEGIN
  IF NOT pg_try_advisory_xact_lock(4711000012) THEN
    RETURN NULL;
  END IF;
  latest := coalesce((SELECT max(c.ledger_id) FROM checkpoints c), 0);
  settled := least(p_settled, coalesce(pg_sequence_last_value('ledger_id_seq'::regclass), 0));
  IF settled IS NOT NULL AND settled - latest >= greatest(coalesce(p_checkpoint_every, 1), 1) THEN
    made := checkpoint_make(settled, 'auto');
    latest := made;
  END IF;
  base := (SELECT h.base_id FROM verifier_base_head h);
  IF base IS NULL OR base < latest THEN
    DELETE FROM verifier_base;
    INSERT INTO verifier_base (actor_id, resource, amount)
    SELECT cb.actor_id, cb.resource, cb.amount FROM checkpoint_balances cb WHERE cb.ledger_id = latest;
    base := latest;
  END IF;
  IF settled > base THEN
    INSERT INTO verifier_base AS v (actor_id, resource, amount)
    SELECT m.actor, m.resource, sum(m.amount) FROM (
      SELECT l.actor_from AS actor, l.resource, -sum(l.amount) AS amount FROM ledger l WHERE l.id > base AND l.id <= settled GROUP BY l.actor_from, l.resource
      UNION ALL
      SELECT l.actor_to, l.resource, sum(l.amount) FROM ledger l WHERE l.id > base AND l.id <= settled GROUP BY l.actor_to, l.resource
    ) AS m GROUP BY m.actor, m.resource
    ON CONFLICT (actor_id, resource) DO UPDATE SET amount = v.amount + excluded.amount;
    base := settled;
  END IF;
  INSERT INTO verifier_base_head (id, base_id) VALUES (1, base) ON CONFLICT (id) DO UPDATE SET base_id = excluded.base_id;
  checked := clock_timestamp();
  WITH expected AS (
    SELECT e.actor, e.resource, sum(e.amount) AS amount FROM (
      SELECT v.actor_id AS actor, v.resource, v.amount FROM verifier_base v
      UNION ALL
      SELECT l.actor_from, l.resource, -sum(l.amount) FROM ledger l WHERE l.id > base GROUP BY l.actor_from, l.resource
      UNION ALL
      SELECT l.actor_to, l.resource, sum(l.amount) FROM ledger l WHERE l.id > base GROUP BY l.actor_to, l.resource
    ) AS e GROUP BY e.actor, e.resource
  ), drift AS (
    SELECT coalesce(b.actor_id, x.actor) AS actor_id, coalesce(b.resource, x.resource) AS resource, b.amount AS balance,
           coalesce(x.amount, 0) AS expected
      FROM balances b FULL JOIN expected x ON x.actor = b.actor_id AND x.resource = b.resource
     WHERE coalesce(b.amount, 0) <> coalesce(x.amount, 0)
  ), shown AS (
    SELECT d.* FROM drift d ORDER BY d.actor_id::text, d.resource COLLATE "C" LIMIT 20
  )
  SELECT (SELECT count(*) FROM drift)::integer AS drift_count,
         coalesce((SELECT jsonb_agg(jsonb_build_object('actor_id', s.actor_id, 'actor', a.name, 'resource', s.resource,
                                                       'balance', trim_scale(s.balance)::text, 'expected', trim_scale(s.expected)::text)
                                    ORDER BY s.actor_id::text, s.resource COLLATE "C")
                     FROM shown s LEFT JOIN actors a ON a.id = s.actor_id), '[]'::jsonb) AS drift,
         (SELECT count(*) FROM ledger l WHERE l.id > base)::bigint AS tail
    INTO result;
  verdict := jsonb_build_object('ok', result.drift_count = 0, 'settled_through', base, 'base_id', latest, 'tail_entries', result.tail,
                                'drift', result.drift, 'drift_count', result.drift_count, 'checkpoint', made);
  INSERT INTO verifier_status (id, ok, settled_through, base_id, tail_entries, drift, drift_count, checked_at, duration_ms, verifier)
  VALUES (1, result.drift_count = 0, base, latest, result.tail, result.drift, result.drift_count, checked,
          (extract(epoch FROM clock_timestamp() - started) * 1000)::integer, left(coalesce(p_verifier, '?'), 200))
  ON CONFLICT (id) DO UPDATE SET ok = excluded.ok, settled_through = excluded.settled_through, base_id = excluded.base_id,
    tail_entries = excluded.tail_entries, drift = excluded.drift, drift_count = excluded.drift_count,
    checked_at = excluded.checked_at, duration_ms = excluded.duration_ms, verifier = excluded.verifier;
  RETURN verdict;
END
$$;

DO $$
BEGIN
  REVOKE EXECUTE ON FUNCTION checkpoint_make(bigint, text), verifier_tick(text, bigint, bigint) FROM PUBLIC;
  IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'gridgov_app') THEN
    GRANT EXECUTE ON FUNCTION checkpoint_make(bigint, text), verifier_tick(text, bigint, bigint) TO gridgov_app;
  END IF;
END
$$;
