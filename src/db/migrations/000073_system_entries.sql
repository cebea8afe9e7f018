-- System entries (genesis, production, consumption, and kinds later migrations add to the ledger's
-- kind CHECK) are written by the holder of a system key, through settle_entries. It refuses what
-- the system role may not do: a trade or an adjustment (those have their own paths), an entry
-- that does not involve world, or one that would leave a trader's balance below zero.
CREATE TYPE system_entry AS (
  proposal_id uuid,
  leg         smallint,
  kind        text,
  actor_from  uuid,
  actor_to    uuid,
  resource    text,
  amount      numeric,
  metadata    jsonb
);

-- The entries of p_entries not in the ledger yet, in order: system entries are idempotent on
-- (proposal_id, leg), and leaving them out first keeps ON CONFLICT from drawing ledger ids.
CREATE FUNCTION system_entries_fresh(p_entries jsonb) RETURNS system_entry[]
LANGUAGE sql STABLE SET search_path = public, pg_temp AS $$
  SELECT coalesce(array_agg(ROW(i.proposal_id, i.leg, i.kind, i.actor_from, i.actor_to, i.resource, i.amount, coalesce(i.metadata, '{}'))::system_entry
                            ORDER BY i.ord), '{}')
    FROM jsonb_populate_recordset(NULL::system_entry, p_entries) WITH ORDINALITY AS i(proposal_id, leg, kind, actor_from, actor_to, resource, amount, metadata, ord)
   WHERE NOT EXISTS (SELECT 1 FROM ledger l WHERE l.proposal_id = i.proposal_id AND l.leg = i.leg)
$$;

-- Appends system entries through ledger_append (skipping any that another writer added meanwhile).
CREATE FUNCTION system_entries_append(p_entries system_entry[], p_validator_version text)
RETURNS TABLE (ledger_id bigint, proposal uuid, leg_index smallint, executed timestamptz)
LANGUAGE sql SET search_path = public, pg_temp AS $$
  SELECT a.ledger_id, a.proposal, a.leg_index, a.executed
    FROM ledger_append(ARRAY(SELECT (f).proposal_id FROM unnest(p_entries) f), ARRAY(SELECT (f).leg FROM unnest(p_entries) f),
                       ARRAY(SELECT (f).kind FROM unnest(p_entries) f), ARRAY(SELECT (f).actor_from FROM unnest(p_entries) f),
                       ARRAY(SELECT (f).actor_to FROM unnest(p_entries) f), ARRAY(SELECT (f).resource FROM unnest(p_entries) f),
                       ARRAY(SELECT (f).amount FROM unnest(p_entries) f), ARRAY(SELECT (f).metadata FROM unnest(p_entries) f),
                       p_validator_version, true) AS a
$$;
REVOKE EXECUTE ON FUNCTION system_entries_fresh(jsonb), system_entries_append(system_entry[], text) FROM PUBLIC;

-- p_entries is a JSON array of system_entry objects (amounts as decimal strings). Idempotent on
-- (proposal_id, leg): entries already in the ledger are left out, and returns only the rows it
-- appended. Errors: GG010/GG011 (key), GG012 an entry refused.
CREATE FUNCTION settle_entries(p_key text, p_entries jsonb, p_validator_version text)
RETURNS TABLE (ledger_id bigint, proposal uuid, leg_index smallint, executed timestamptz)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
  world CONSTANT uuid := '00000000-0000-0000-0000-000000000000';
  fresh system_entry[];
  bad record;
BEGIN
  PERFORM require_key(p_key, 'system');
  IF p_entries IS NULL OR jsonb_typeof(p_entries) <> 'array' THEN
    RAISE EXCEPTION 'entries must be a JSON array' USING ERRCODE = 'GG012';
  END IF;
  SELECT e.* INTO bad FROM jsonb_populate_recordset(NULL::system_entry, p_entries) e
   WHERE e.kind IS NULL OR e.kind IN ('trade', 'adjustment')
      OR e.proposal_id IS NULL OR e.leg IS NULL OR e.resource IS NULL OR e.amount IS NULL OR e.amount <= 0
      OR e.actor_from IS NULL OR e.actor_to IS NULL OR (e.actor_from <> world AND e.actor_to <> world)
   LIMIT 1;
  IF FOUND THEN
    RAISE EXCEPTION 'entry %/% (%) refused: a system entry has a kind other than trade and adjustment, a positive amount, and world on one side',
      bad.proposal_id, bad.leg, bad.kind USING ERRCODE = 'GG012';
  END IF;
  fresh := system_entries_fresh(p_entries);
  IF cardinality(fresh) = 0 THEN
    RETURN;
  END IF;
  -- Every row these entries move, world's too, locked in the order every writer uses.
  PERFORM 1 FROM balances b
    JOIN (SELECT (f).actor_from AS actor, (f).resource FROM unnest(fresh) f UNION SELECT (f).actor_to, (f).resource FROM unnest(fresh) f) t
      ON b.actor_id = t.actor AND b.resource = t.resource
   ORDER BY b.actor_id, b.resource FOR UPDATE OF b;
  SELECT t.actor, t.resource, coalesce(b.amount, 0) + t.delta AS after INTO bad FROM (
      SELECT m.actor, m.resource, sum(m.delta) AS delta FROM (
        SELECT (f).actor_from AS actor, (f).resource, -(f).amount AS delta FROM unnest(fresh) f
        UNION ALL SELECT (f).actor_to, (f).resource, (f).amount FROM unnest(fresh) f) m
       WHERE m.actor <> world GROUP BY m.actor, m.resource) t
    LEFT JOIN balances b ON b.actor_id = t.actor AND b.resource = t.resource
   WHERE coalesce(b.amount, 0) + t.delta < 0
   LIMIT 1;
  IF FOUND THEN
    RAISE EXCEPTION 'entries refused: they would leave actor % below zero (% of %)', bad.actor, bad.after, bad.resource USING ERRCODE = 'GG012';
  END IF;
  RETURN QUERY SELECT * FROM system_entries_append(fresh, p_validator_version);
END
$$;

-- Seeds a scenario: resources, limits, actors with a balance row per resource, genesis entries
-- and the scenario's definition. Seeding changes the limits, so it takes a system or admin key,
-- unless the session's own login may write the limits table (the owner: gridgov seed).
-- Errors: GG010/GG011 (key), GG014 an actor's name is taken by another id.
CREATE FUNCTION seed_scenario(
  p_key text, p_name text, p_definition jsonb, p_resources jsonb, p_limits jsonb, p_actors jsonb, p_genesis jsonb, p_validator_version text
) RETURNS TABLE (actors_added integer, entries_added integer)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
  added integer;
  appended integer;
  clash text;
BEGIN
  IF NOT has_table_privilege(session_user, 'constraints', 'INSERT') THEN
    IF NOT EXISTS (SELECT 1 FROM key_caller(p_key) c WHERE NOT c.revoked AND c.roles && ARRAY['system', 'admin']) THEN
      PERFORM require_key(p_key, 'system');
    END IF;
  END IF;
  PERFORM pg_advisory_xact_lock(4711000002);
  INSERT INTO resources (name, unit)
  SELECT r.name, r.unit FROM jsonb_to_recordset(p_resources) AS r(name text, unit text)
  ON CONFLICT (name) DO UPDATE SET unit = excluded.unit;
  INSERT INTO constraints (resource, max_transfer, min_balance)
  SELECT l.resource, l.max_transfer, l.min_balance FROM jsonb_to_recordset(p_limits) AS l(resource text, max_transfer numeric, min_balance numeric)
  ON CONFLICT ((coalesce(resource, ''))) DO UPDATE SET max_transfer = excluded.max_transfer, min_balance = excluded.min_balance;
  INSERT INTO actors (id, name, kind)
  SELECT a.id, a.name, a.kind FROM jsonb_to_recordset(p_actors) AS a(id uuid, name text, kind text)
  ON CONFLICT DO NOTHING;
  GET DIAGNOSTICS added = ROW_COUNT;
  SELECT x.name INTO clash FROM actors x JOIN jsonb_to_recordset(p_actors) AS a(id uuid, name text) ON a.name = x.name AND a.id <> x.id LIMIT 1;
  IF clash IS NOT NULL THEN
    RAISE EXCEPTION 'actor % exists with another id', clash USING ERRCODE = 'GG014';
  END IF;
  -- Every actor gets a row per resource, so every trade can lock what it touches.
  INSERT INTO balances (actor_id, resource) SELECT a.id, r.name FROM actors a CROSS JOIN resources r ON CONFLICT DO NOTHING;
  -- p_genesis: system_entry objects of kind genesis, from world.
  SELECT count(*) INTO appended FROM system_entries_append(system_entries_fresh(p_genesis), p_validator_version);
  INSERT INTO scenarios (name, definition) VALUES (p_name, p_definition)
  ON CONFLICT (name) DO UPDATE SET definition = excluded.definition;
  RETURN QUERY SELECT added, appended;
END
$$;

DO $$
BEGIN
  REVOKE EXECUTE ON FUNCTION settle_entries(text, jsonb, text), seed_scenario(text, text, jsonb, jsonb, jsonb, jsonb, jsonb, text) FROM PUBLIC;
  IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'gridgov_app') THEN
    GRANT EXECUTE ON FUNCTION settle_entries(text, jsonb, text), seed_scenario(text, text, jsonb, jsonb, jsonb, jsonb, jsonb, text) TO gridgov_app;
  END IF;
END
$$;
