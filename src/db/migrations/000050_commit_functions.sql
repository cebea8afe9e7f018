-- The trading rules a decision depends on, besides balances: the resources and the limits, as one
-- value that is compared whole. The validator reads it with the rules and hands it back with its
-- decisions; commit_decisions refuses them if the rules changed in between.
CREATE FUNCTION trading_rules() RETURNS text LANGUAGE sql STABLE AS $$
  SELECT json_build_object(
    'resources', (SELECT coalesce(json_agg(name ORDER BY name), '[]'::json) FROM resources),
    'constraints', (SELECT coalesce(json_agg(json_build_object('resource', resource, 'max_transfer', max_transfer::text,
                                                                'min_balance', min_balance::text)
                                             ORDER BY resource NULLS FIRST), '[]'::json) FROM constraints))::text
$$;

-- The one writer of ledger rows: appends entries (in the order given) and moves the balances they
-- touch, in one statement. With p_skip_existing, entries whose (proposal_id, leg) is already there
-- are left out and only the rows actually inserted move balances (idempotent system entries);
-- without it, such an entry fails the whole call with a unique violation.
--
-- Both functions below look rows up by key (ids, actors), a handful per row written. A session
-- keeps the plans of their statements; planned while a table looked empty (a new database,
-- before autovacuum's first ANALYZE), they would scan it whole on every call ever after. So they
-- run with sequential scans ruled out wherever an index serves.
CREATE FUNCTION ledger_append(
  p_proposal uuid[], p_leg smallint[], p_kind text[], p_from uuid[], p_to uuid[], p_resource text[],
  p_amount numeric[], p_metadata jsonb[], p_validator_version text, p_skip_existing boolean
) RETURNS TABLE (ledger_id bigint, proposal uuid, leg_index smallint, executed timestamptz)
LANGUAGE plpgsql SET enable_seqscan = off AS $$
DECLARE
  appended integer;
BEGIN
  RETURN QUERY
    WITH input AS (
      SELECT * FROM unnest(p_proposal, p_leg, p_kind, p_from, p_to, p_resource, p_amount, p_metadata)
        WITH ORDINALITY AS t(proposal_id, leg, kind, actor_from, actor_to, resource, amount, metadata, ord)
    ), inserted AS (
      INSERT INTO ledger (proposal_id, leg, kind, actor_from, actor_to, resource, amount, validator_version, metadata)
      SELECT i.proposal_id, i.leg, i.kind, i.actor_from, i.actor_to, i.resource, i.amount, p_validator_version, i.metadata
        FROM input i ORDER BY i.ord
      ON CONFLICT ON CONSTRAINT ledger_proposal_leg DO NOTHING
      RETURNING ledger.id, ledger.proposal_id, ledger.leg, ledger.actor_from, ledger.actor_to, ledger.resource, ledger.amount, ledger.executed_at
    ), moves AS (
      SELECT m.actor_from AS actor, m.resource, -m.amount AS delta, m.id FROM inserted m
      UNION ALL SELECT m.actor_to, m.resource, m.amount, m.id FROM inserted m
    ), totals AS (
      SELECT mv.actor, mv.resource, sum(mv.delta) AS delta, max(mv.id) AS last_id FROM moves mv GROUP BY mv.actor, mv.resource
    ), updated AS (
      UPDATE balances b SET amount = b.amount + t.delta, last_ledger_id = greatest(b.last_ledger_id, t.last_id)
        FROM totals t WHERE b.actor_id = t.actor AND b.resource = t.resource
      RETURNING 1
    )
    SELECT r.id, r.proposal_id, r.leg, r.executed_at FROM inserted r, (SELECT count(*) FROM updated) u ORDER BY r.id;
  GET DIAGNOSTICS appended = ROW_COUNT;
  IF NOT p_skip_existing AND appended <> cardinality(p_proposal) THEN
    RAISE EXCEPTION 'ledger entry already exists for one of the proposals given' USING ERRCODE = 'unique_violation';
  END IF;
END
$$;

-- Records a group of decided proposals if, and only if, the world is still the one they were
-- decided against; otherwise it records nothing and fails with a GGxxx code:
--   GG001 the circuit breaker is open
--   GG002 the trading rules are not p_rules any more
--   GG003 one of the proposals was decided meanwhile
--   GG004 a balance the decisions read is not the amount given any more (or has no row)
-- p_balance_* lists every balance row the decisions read, with the amount they read; those rows
-- stay locked until the end of the transaction. The proposal ids are locked first (advisory, in
-- sorted order, as every writer does), so each later statement sees every decision committed
-- before. Called on its own it is one round trip and its own transaction.
CREATE FUNCTION commit_decisions(
  p_lock_keys bigint[], p_rules text,
  p_balance_actor uuid[], p_balance_resource text[], p_balance_amount numeric[],
  p_leg_proposal uuid[], p_leg_index smallint[], p_leg_from uuid[], p_leg_to uuid[], p_leg_resource text[],
  p_leg_amount numeric[], p_leg_metadata jsonb[],
  p_rejected_id uuid[], p_rejected_code text[], p_rejected_message text[], p_rejected_body text[], p_rejected_canonical text[],
  p_topics text[], p_topics_configured boolean[],
  p_conflict_id text[], p_conflict_caller text[],
  p_validator_version text
) RETURNS TABLE (outcome text, proposal uuid, ledger_id bigint, decided_at timestamptz)
LANGUAGE plpgsql SET enable_seqscan = off AS $$
DECLARE
  locked integer;
BEGIN
  PERFORM pg_advisory_xact_lock(k) FROM (SELECT DISTINCT unnest(p_lock_keys) AS k ORDER BY 1) AS sorted;
  IF (SELECT c.breaker_on FROM control c WHERE c.id = 1) THEN
    RAISE EXCEPTION 'circuit breaker is open' USING ERRCODE = 'GG001';
  END IF;
  IF trading_rules() IS DISTINCT FROM p_rules THEN
    RAISE EXCEPTION 'trading rules changed' USING ERRCODE = 'GG002';
  END IF;
  IF EXISTS (SELECT 1 FROM ledger l WHERE l.proposal_id = ANY (p_leg_proposal || p_rejected_id))
     OR EXISTS (SELECT 1 FROM rejected_proposals r WHERE r.proposal_id = ANY (p_rejected_id || p_leg_proposal)) THEN
    RAISE EXCEPTION 'a proposal was decided meanwhile' USING ERRCODE = 'GG003';
  END IF;
  -- Locked in one sorted order (no deadlocks); a row changed by a transaction that commits while
  -- we wait for it is read again, and no longer matches.
  SELECT count(*) INTO locked FROM (
    SELECT 1 FROM balances b
      JOIN unnest(p_balance_actor, p_balance_resource, p_balance_amount) AS e(actor, resource, amount)
        ON b.actor_id = e.actor AND b.resource = e.resource
     WHERE b.actor_id = ANY (p_balance_actor) AND b.amount = e.amount
     ORDER BY b.actor_id, b.resource
       FOR UPDATE OF b) AS matched;
  IF locked <> cardinality(p_balance_actor) THEN
    RAISE EXCEPTION 'balances moved since they were read' USING ERRCODE = 'GG004';
  END IF;

  RETURN QUERY
    SELECT 'applied', a.proposal, a.ledger_id, a.executed
      FROM ledger_append(p_leg_proposal, p_leg_index, array_fill('trade'::text, ARRAY[cardinality(p_leg_proposal)]),
                         p_leg_from, p_leg_to, p_leg_resource, p_leg_amount, p_leg_metadata, p_validator_version, false) AS a;
  RETURN QUERY
    WITH rejected AS (
      INSERT INTO rejected_proposals (proposal_id, validation_error_code, message, proposal_json, canonical, validator_version)
      SELECT r.id, r.code, r.message, r.body::jsonb, r.canonical, p_validator_version
        FROM unnest(p_rejected_id, p_rejected_code, p_rejected_message, p_rejected_body, p_rejected_canonical)
          AS r(id, code, message, body, canonical)
      RETURNING rejected_proposals.proposal_id, rejected_proposals.validation_error_code, rejected_proposals.rejected_at
    ), queued AS (
      INSERT INTO outbox (topic, dedupe_key, payload, status)
      SELECT t.topic, t.topic || ':' || q.proposal_id,
             jsonb_build_object('proposal_id', q.proposal_id, 'error_code', q.validation_error_code),
             CASE WHEN t.configured THEN 'pending' ELSE 'skipped' END
        FROM rejected q CROSS JOIN unnest(p_topics, p_topics_configured) AS t(topic, configured)
      RETURNING 1
    )
    SELECT 'rejected', q.proposal_id, NULL::bigint, q.rejected_at FROM rejected q, (SELECT count(*) FROM queued) AS n;
  INSERT INTO admin_audit (admin_user, action, payload, outcome)
  SELECT c.caller, 'execute', jsonb_build_object('proposal_id', c.id), 'IDEMPOTENCY_CONFLICT'
    FROM unnest(p_conflict_id, p_conflict_caller) AS c(id, caller);
END
$$;
