-- verifier_tick again, with one change: a caller with no settled horizon yet (NULL) settles
-- nothing. least() ignores a NULL, so 000074 took the sequence's last value as settled: a validator
-- just started under load moved the verifier's base over ids whose transactions were still open,
-- and their rows, committed a moment later, were never counted: /health reported drift for good.
-- Same signature, result and privileges.

CREATE OR REPLACE FUNCTION verifier_tick(p_verifier text, p_settled bigint, p_checkpoint_every bigint) RETURNS jsonb
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
  settled := least(coalesce(p_settled, 0), coalesce(pg_sequence_last_value('ledger_id_seq'::regclass), 0));
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
