-- record_proposals again, keyed on the presented key for everything the API enforces (issue: the
-- database wall). What changed against 000140, rule by rule:
--
-- * No key proves nothing: under an execute auth mode of 'required' (wall_settings, written only
--   by an owning login), a proposal without a key raises GG003 and one whose key may not propose
--   (viewer) raises GG011. Under 'open' an anonymous proposal may move traders' funds, as an
--   anonymous POST /execute may.
-- * So debiting several traders in one proposal (a swap) needs a system, operator or admin key
--   under 'required': an agent key debits only its own actor. Under 'open', a proposal without a
--   key may debit any trader, several at once too, as an anonymous POST /execute may.
-- * The audit's caller is the name the key proves ('anonymous' without one); proposal_spec.caller
--   is no longer read.
-- * Outbox rows are written for every topic in notify_topics and no other: a topic the caller
--   does not list as configured is recorded as skipped, an unknown topic raises GG002.
-- Same signature, results and privileges.

CREATE TABLE wall_settings (
  id           smallint PRIMARY KEY DEFAULT 1 CHECK (id = 1),
  execute_auth text NOT NULL DEFAULT 'open' CHECK (execute_auth IN ('open', 'required')),
  updated_at   timestamptz NOT NULL DEFAULT now()
);
INSERT INTO wall_settings (id) VALUES (1);

CREATE TABLE notify_topics (
  topic text PRIMARY KEY CHECK (topic ~ '^[a-z][a-z0-9_-]{0,31}$')
);
INSERT INTO notify_topics (topic) VALUES ('linear'), ('discord');

CREATE OR REPLACE FUNCTION record_proposals(
  p_specs proposal_spec[], p_legs proposal_leg_spec[], p_topics text[], p_topics_configured boolean[], p_validator_version text
) RETURNS TABLE (item integer, outcome text, replayed boolean, error_code text, message text, ledger_ids bigint[], decided_at timestamptz)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp SET plan_cache_mode = force_generic_plan AS $$
#variable_conflict use_column
DECLARE
  n integer := coalesce(cardinality(p_specs), 0);
  nl integer := coalesce(cardinality(p_legs), 0);
  v_on boolean; v_reason text; v_bad_key boolean; v_anonymous boolean; v_viewer boolean; v_auth text;
  -- per item
  s_id uuid[]; s_role text[]; s_key_actor uuid[]; s_key_name text[]; s_first integer[]; s_prior text[]; s_same boolean[];
  s_holder text[];
  o_kind text[] := '{}'; o_replayed boolean[] := '{}'; o_prior boolean[] := '{}'; o_code text[] := '{}'; o_msg text[] := '{}';
  -- per leg
  l_item integer[]; l_amount numeric[]; l_resource text[]; l_from text[]; l_to text[]; l_from_name text[]; l_to_name text[];
  l_from_world boolean[]; l_to_world boolean[]; l_res_ok boolean[]; l_max numeric[]; l_min numeric[]; l_fslot integer[]; l_tslot integer[];
  -- per balance row the group touches, in (actor, resource) order
  pair_actor uuid[]; pair_resource text[]; bal numeric[];
  -- what to record
  a_prop uuid[] := '{}'; a_leg smallint[] := '{}'; a_from uuid[] := '{}'; a_to uuid[] := '{}'; a_res text[] := '{}';
  a_amount numeric[] := '{}'; a_meta jsonb[] := '{}';
  r_idx integer[] := '{}'; c_idx integer[] := '{}';
  ret_prop uuid[]; ret_id bigint[]; ret_leg smallint[];
  i integer; nxt integer; lo integer; hi integer; moved integer; code text; msg text; avail numeric; f integer;
BEGIN
  IF EXISTS (SELECT 1 FROM unnest(p_legs) l WHERE l.amount IS NULL OR l.amount <= 0 OR l.amount <> round(l.amount, 6) OR l.amount >= 1e9) THEN
    RAISE EXCEPTION 'every leg amount must be greater than 0, below 1000000000, with at most 6 decimals' USING ERRCODE = 'GG002';
  END IF;
  IF coalesce(cardinality(p_topics), 0) <> coalesce(cardinality(p_topics_configured), 0)
     OR EXISTS (SELECT 1 FROM unnest(p_topics) t(topic) WHERE NOT EXISTS (SELECT 1 FROM notify_topics n WHERE n.topic = t.topic)) THEN
    RAISE EXCEPTION 'topics: each must be one of %, with a configured flag each',
      (SELECT string_agg(n.topic, ', ' ORDER BY n.topic) FROM notify_topics n) USING ERRCODE = 'GG002';
  END IF;
  -- Serialises work on each proposal id across transactions and replicas (the ledger and the
  -- rejections cannot share a unique constraint), in one sorted order: no deadlocks.
  PERFORM pg_advisory_xact_lock(k)
     FROM (SELECT DISTINCT ('x' || left(replace(s.proposal_id::text, '-', ''), 16))::bit(64)::bigint AS k FROM unnest(p_specs) s ORDER BY 1) AS sorted;
  SELECT c.breaker_on, c.reason INTO v_on, v_reason FROM control c WHERE c.id = 1;
  IF v_on THEN
    RAISE EXCEPTION 'circuit breaker is open' USING ERRCODE = 'GG001', DETAIL = coalesce(v_reason, '');
  END IF;

  -- Each item: the role its key proves, the first item of the group with its id, and what was
  -- decided for its id before (and whether that was this payload).
  SELECT array_agg(x.proposal_id ORDER BY x.ord), array_agg(x.role ORDER BY x.ord), array_agg(x.key_actor ORDER BY x.ord),
         array_agg(x.key_name ORDER BY x.ord), array_agg(x.first ORDER BY x.ord), array_agg(x.prior ORDER BY x.ord),
         array_agg(x.same ORDER BY x.ord), bool_or(x.bad_key), array_agg(x.holder ORDER BY x.ord),
         bool_or(x.api_key IS NULL), bool_or(x.role = 'viewer')
    INTO s_id, s_role, s_key_actor, s_key_name, s_first, s_prior, s_same, v_bad_key, s_holder, v_anonymous, v_viewer
    FROM (
      SELECT s.ord, s.proposal_id, s.api_key, k.role, k.actor_id AS key_actor, ka.name AS key_name,
             (s.api_key IS NOT NULL AND k.role IS NULL) AS bad_key,
             CASE WHEN s.api_key IS NULL THEN 'anonymous' ELSE k.holder END AS holder,
             min(s.ord) OVER (PARTITION BY s.proposal_id) AS first, p.kind AS prior, p.same
        FROM unnest(p_specs) WITH ORDINALITY AS s(proposal_id, api_key, caller, canonical, body, metadata, ord)
        -- The bootstrap key (GRIDGOV_ADMIN_KEY, registered by an owning login) holds the system role.
        LEFT JOIN LATERAL (
          SELECT 'system'::text AS role, NULL::uuid AS actor_id, 'bootstrap'::text AS holder FROM bootstrap_key b
           WHERE b.key_hash = encode(sha256(convert_to(s.api_key, 'UTF8')), 'hex')
          UNION ALL
          SELECT a.role, a.actor_id, a.name FROM api_keys a
           WHERE a.key_hash = encode(sha256(convert_to(s.api_key, 'UTF8')), 'hex') AND a.revoked_at IS NULL
          LIMIT 1
        ) k ON s.api_key IS NOT NULL
        LEFT JOIN actors ka ON ka.id = k.actor_id
        LEFT JOIN LATERAL (
          SELECT 'applied' AS kind,
                 array_agg(ROW(l.actor_from, l.actor_to, l.resource, l.amount) ORDER BY l.leg)
                   = (SELECT array_agg(ROW(g.actor_from, g.actor_to, g.resource, g.amount) ORDER BY g.leg) FROM unnest(p_legs) g WHERE g.item = s.ord) AS same
            FROM ledger l WHERE l.proposal_id = s.proposal_id HAVING count(*) > 0
          UNION ALL
          SELECT 'rejected', r.canonical = s.canonical FROM rejected_proposals r WHERE r.proposal_id = s.proposal_id
        ) p ON true
    ) x;
  IF v_bad_key THEN
    RAISE EXCEPTION 'the database knows no such API key, or it was revoked' USING ERRCODE = 'GG003';
  END IF;
  -- What an anonymous proposal may do is the database's to say, not the caller's.
  SELECT w.execute_auth INTO v_auth FROM wall_settings w WHERE w.id = 1;
  IF coalesce(v_auth, 'required') = 'required' THEN
    IF v_anonymous THEN
      RAISE EXCEPTION 'an API key is required to propose (execute auth is required)' USING ERRCODE = 'GG003';
    ELSIF v_viewer THEN
      RAISE EXCEPTION 'proposing needs an agent, system or operator key' USING ERRCODE = 'GG011';
    END IF;
  END IF;

  -- Each leg: its actors (by id), its resource and limits, and the balance rows it moves.
  WITH legs AS (
    SELECT l.*, fa.name AS from_name, ta.name AS to_name, fa.kind = 'system' AS from_world, ta.kind = 'system' AS to_world,
           r.name IS NOT NULL AS res_ok, coalesce(c.max_transfer, g.max_transfer) AS max_transfer,
           coalesce(c.min_balance, g.min_balance, 0) AS min_balance
      FROM unnest(p_legs) WITH ORDINALITY AS l(item, leg, actor_from, actor_to, from_ref, to_ref, resource, amount, ord)
      LEFT JOIN LATERAL (SELECT a.name, a.kind FROM actors a WHERE a.id = l.actor_from LIMIT 1) fa ON true
      LEFT JOIN LATERAL (SELECT a.name, a.kind FROM actors a WHERE a.id = l.actor_to LIMIT 1) ta ON true
      LEFT JOIN LATERAL (SELECT s.name FROM resources s WHERE s.name = l.resource LIMIT 1) r ON true
      LEFT JOIN constraints c ON coalesce(c.resource, '') = l.resource
      LEFT JOIN constraints g ON coalesce(g.resource, '') = ''
  ), pairs AS (
    SELECT p.actor, p.resource, row_number() OVER (ORDER BY p.actor, p.resource)::integer AS slot
      FROM (SELECT actor_from AS actor, resource FROM legs WHERE from_name IS NOT NULL AND res_ok
            UNION SELECT actor_to, resource FROM legs WHERE to_name IS NOT NULL AND res_ok) AS p
  )
  SELECT array_agg(l.item ORDER BY l.ord), array_agg(l.amount ORDER BY l.ord), array_agg(l.resource ORDER BY l.ord),
         array_agg(coalesce(l.actor_from::text, l.from_ref) ORDER BY l.ord), array_agg(coalesce(l.actor_to::text, l.to_ref) ORDER BY l.ord),
         array_agg(l.from_name ORDER BY l.ord), array_agg(l.to_name ORDER BY l.ord),
         array_agg(coalesce(l.from_world, false) ORDER BY l.ord), array_agg(coalesce(l.to_world, false) ORDER BY l.ord),
         array_agg(l.res_ok ORDER BY l.ord), array_agg(l.max_transfer ORDER BY l.ord), array_agg(l.min_balance ORDER BY l.ord),
         array_agg(pf.slot ORDER BY l.ord), array_agg(pt.slot ORDER BY l.ord),
         (SELECT array_agg(actor ORDER BY slot) FROM pairs), (SELECT array_agg(resource ORDER BY slot) FROM pairs)
    INTO l_item, l_amount, l_resource, l_from, l_to, l_from_name, l_to_name, l_from_world, l_to_world, l_res_ok, l_max, l_min,
         l_fslot, l_tslot, pair_actor, pair_resource
    FROM legs l
    LEFT JOIN pairs pf ON pf.actor = l.actor_from AND pf.resource = l.resource
    LEFT JOIN pairs pt ON pt.actor = l.actor_to AND pt.resource = l.resource;

  bal := lock_balances(pair_actor, pair_resource);

  nxt := 1;
  FOR i IN 1..n LOOP
    lo := nxt;
    WHILE nxt <= nl AND l_item[nxt] = i LOOP nxt := nxt + 1; END LOOP;
    hi := nxt - 1;
    IF hi < lo OR (nxt <= nl AND l_item[nxt] < i) THEN
      RAISE EXCEPTION 'legs must come in item order, at least one per item (item %)', i USING ERRCODE = 'GG002';
    END IF;
    code := NULL; msg := NULL;
    IF s_prior[i] IS NOT NULL OR s_first[i] < i THEN
      -- Decided before, or earlier in this group: the same payload replays that outcome.
      f := s_first[i];
      o_prior := o_prior || (s_prior[i] IS NOT NULL);
      IF s_prior[i] IS NOT NULL AND NOT coalesce(s_same[i], false)
         OR s_prior[i] IS NULL AND (p_specs[i]).canonical IS DISTINCT FROM (p_specs[f]).canonical THEN
        o_kind := o_kind || 'conflict'::text; o_replayed := o_replayed || false; o_code := o_code || NULL::text; o_msg := o_msg || NULL::text;
        c_idx := c_idx || i;
      ELSE
        o_kind := o_kind || coalesce(s_prior[i], o_kind[f]); o_replayed := o_replayed || true;
        o_code := o_code || CASE WHEN s_prior[i] IS NULL THEN o_code[f] END; o_msg := o_msg || CASE WHEN s_prior[i] IS NULL THEN o_msg[f] END;
      END IF;
      CONTINUE;
    END IF;

    -- Every leg on its own first, then each against the balances the legs before it left.
    FOR j IN lo..hi LOOP
      IF l_from[j] = l_to[j] THEN
        code := 'SAME_ACTOR'; msg := format('actor_from and actor_to are both %s', coalesce(l_from_name[j], l_from[j]));
      ELSIF l_from_name[j] IS NULL THEN
        code := 'INVALID_ACTOR'; msg := format('unknown actor %s', l_from[j]);
      ELSIF l_to_name[j] IS NULL THEN
        code := 'INVALID_ACTOR'; msg := format('unknown actor %s', l_to[j]);
      ELSIF NOT l_res_ok[j] THEN
        code := 'INVALID_RESOURCE'; msg := format('unknown resource %s', l_resource[j]);
      ELSIF (l_from_world[j] OR l_to_world[j]) AND s_role[i] IS DISTINCT FROM 'system' THEN
        code := 'FORBIDDEN_ACTOR'; msg := 'only the system role may move world''s funds';
      ELSIF s_role[i] = 'agent' AND l_from[j] <> s_key_actor[i]::text THEN
        code := 'FORBIDDEN_ACTOR'; msg := format('this key may only move the funds of %s', s_key_name[i]);
      ELSIF NOT l_from_world[j] AND l_amount[j] > l_max[j] THEN
        code := 'CONSTRAINT_VIOLATION';
        msg := format('amount %s exceeds max_transfer %s for %s', trim_scale(l_amount[j]), trim_scale(l_max[j]), l_resource[j]);
      END IF;
      IF code IS NOT NULL THEN msg := format('leg %s: %s', j - lo, msg); EXIT; END IF;
    END LOOP;
    moved := lo - 1;
    IF code IS NULL THEN
      FOR j IN lo..hi LOOP
        IF NOT l_from_world[j] THEN
          avail := bal[l_fslot[j]];
          IF avail < l_amount[j] THEN
            code := 'INSUFFICIENT_BALANCE';
            msg := format('leg %s: %s holds %s %s, needs %s', j - lo, l_from_name[j], trim_scale(avail), l_resource[j], trim_scale(l_amount[j]));
          ELSIF avail - l_amount[j] < l_min[j] THEN
            code := 'CONSTRAINT_VIOLATION';
            msg := format('leg %s: would leave %s with %s %s, below min_balance %s', j - lo, l_from_name[j],
                          trim_scale(avail - l_amount[j]), l_resource[j], trim_scale(l_min[j]));
          END IF;
        END IF;
        EXIT WHEN code IS NOT NULL;
        bal[l_fslot[j]] := bal[l_fslot[j]] - l_amount[j];
        bal[l_tslot[j]] := bal[l_tslot[j]] + l_amount[j];
        moved := j;
      END LOOP;
      IF code IS NOT NULL THEN -- a rejected proposal moves nothing
        FOR j IN REVERSE moved..lo LOOP
          bal[l_fslot[j]] := bal[l_fslot[j]] + l_amount[j];
          bal[l_tslot[j]] := bal[l_tslot[j]] - l_amount[j];
        END LOOP;
      END IF;
    END IF;
    o_prior := o_prior || false; o_replayed := o_replayed || false; o_code := o_code || code; o_msg := o_msg || msg;
    IF code IS NULL THEN
      o_kind := o_kind || 'applied'::text;
      FOR j IN lo..hi LOOP
        a_prop := a_prop || s_id[i]; a_leg := a_leg || (j - lo)::smallint;
        a_from := a_from || l_from[j]::uuid; a_to := a_to || l_to[j]::uuid; a_res := a_res || l_resource[j]; a_amount := a_amount || l_amount[j];
        a_meta := a_meta || CASE WHEN j = lo THEN coalesce((p_specs[i]).metadata, '{}'::jsonb) ELSE '{}'::jsonb END;
      END LOOP;
    ELSE
      o_kind := o_kind || 'rejected'::text;
      r_idx := r_idx || i;
    END IF;
  END LOOP;
  IF nxt <= nl THEN
    RAISE EXCEPTION 'a leg names item %, beyond the % given', l_item[nxt], n USING ERRCODE = 'GG002';
  END IF;

  IF cardinality(a_prop) > 0 THEN
    SELECT array_agg(a.proposal), array_agg(a.ledger_id), array_agg(a.leg_index) INTO ret_prop, ret_id, ret_leg
      FROM ledger_append(a_prop, a_leg, array_fill('trade'::text, ARRAY[cardinality(a_prop)]), a_from, a_to, a_res, a_amount, a_meta,
                         p_validator_version, false) AS a;
  END IF;
  WITH rejected AS (
    INSERT INTO rejected_proposals (proposal_id, validation_error_code, message, proposal_json, canonical, validator_version)
    SELECT s_id[x], o_code[x], o_msg[x], (p_specs[x]).body, (p_specs[x]).canonical, p_validator_version FROM unnest(r_idx) AS x
    RETURNING rejected_proposals.proposal_id, rejected_proposals.validation_error_code
  )
  INSERT INTO outbox (topic, dedupe_key, payload, status)
  SELECT t.topic, t.topic || ':' || q.proposal_id, jsonb_build_object('proposal_id', q.proposal_id, 'error_code', q.validation_error_code),
         CASE WHEN c.configured THEN 'pending' ELSE 'skipped' END
    FROM rejected q CROSS JOIN notify_topics t
    LEFT JOIN LATERAL (
      SELECT bool_or(g.configured) AS configured FROM unnest(p_topics, p_topics_configured) AS g(topic, configured) WHERE g.topic = t.topic
    ) c ON true;
  INSERT INTO admin_audit (admin_user, action, payload, outcome)
  SELECT s_holder[x], 'execute', jsonb_build_object('proposal_id', s_id[x]), 'IDEMPOTENCY_CONFLICT'
    FROM unnest(c_idx) AS x;

  RETURN QUERY
    WITH appended AS (
      SELECT r.proposal, array_agg(r.ledger_id ORDER BY r.leg) AS ids
        FROM unnest(ret_prop, ret_id, ret_leg) AS r(proposal, ledger_id, leg) GROUP BY r.proposal
    )
    SELECT o.ord::integer, o.kind, o.replayed, coalesce(o.code, rp.validation_error_code), coalesce(o.msg, rp.message),
           coalesce(ap.ids, led.ids),
           CASE WHEN o.kind = 'conflict' THEN NULL WHEN o.prior THEN coalesce(led.at, rp.rejected_at) ELSE now() END
      FROM unnest(s_id, o_kind, o_replayed, o_prior, o_code, o_msg) WITH ORDINALITY AS o(id, kind, replayed, prior, code, msg, ord)
      LEFT JOIN appended ap ON o.kind = 'applied' AND ap.proposal = o.id
      LEFT JOIN LATERAL (
        SELECT array_agg(l.id ORDER BY l.leg) AS ids, min(l.executed_at) AS at FROM ledger l
         WHERE o.prior AND o.kind = 'applied' AND l.proposal_id = o.id
      ) led ON true
      LEFT JOIN rejected_proposals rp ON o.prior AND o.kind = 'rejected' AND rp.proposal_id = o.id
     ORDER BY o.ord;
END
$$;

DO $$
BEGIN
  IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'gridgov_app') THEN
    REVOKE ALL ON wall_settings, notify_topics FROM gridgov_app;
    GRANT SELECT ON wall_settings, notify_topics TO gridgov_app;
  END IF;
END
$$;
