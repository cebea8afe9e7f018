-- ledger_append, as in 000050 but without the planner switch that ruled out sequential scans. It
-- priced every sequential scan below it at about 1e10, which crosses JIT's threshold on servers built with
-- LLVM: each call paid tens of milliseconds of compilation. Its reason, plans made while a table
-- was empty, does not hold: ANALYZE (after seeding, and autovacuum's) invalidates cached plans.
-- Same signature and behaviour, so every caller keeps working.
CREATE OR REPLACE FUNCTION ledger_append(
  p_proposal uuid[], p_leg smallint[], p_kind text[], p_from uuid[], p_to uuid[], p_resource text[],
  p_amount numeric[], p_metadata jsonb[], p_validator_version text, p_skip_existing boolean
) RETURNS TABLE (ledger_id bigint, proposal uuid, leg_index smallint, executed timestamptz)
LANGUAGE plpgsql AS $$
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

-- Replaced by record_proposals (000062), which decides as well as records.
DROP FUNCTION commit_decisions(bigint[], text, uuid[], text[], numeric[], uuid[], smallint[], uuid[], uuid[], text[], numeric[], jsonb[],
                               uuid[], text[], text[], text[], text[], text[], boolean[], text[], text[], text);
DROP FUNCTION trading_rules();

