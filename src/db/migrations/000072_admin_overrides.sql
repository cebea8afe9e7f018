-- Admin overrides and the circuit breaker, each proving its role with the presented key and
-- writing its own audit row in the same transaction as the change. Errors: GG010/GG011 (key),
-- GG013 no such actor or resource, invalid_parameter_value for a bad amount or action.

-- Sets a trader's balance of a resource to p_target with one adjustment entry against world (none
-- when it already is p_target). p_action names the override (admin.balance, admin.reset_credit).
CREATE FUNCTION admin_set_balance(
  p_key text, p_action text, p_actor uuid, p_resource text, p_target numeric, p_request jsonb, p_validator_version text
) RETURNS jsonb
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
  world CONSTANT uuid := '00000000-0000-0000-0000-000000000000';
  who text := require_key(p_key, 'admin');
  actor_name text;
  previous numeric;
  difference numeric;
  appended_id bigint;
  proposal uuid;
  change jsonb;
BEGIN
  IF p_action NOT IN ('admin.balance', 'admin.reset_credit') THEN
    RAISE EXCEPTION 'action: % is not a balance override', p_action USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF p_target IS NULL OR p_target < 0 OR p_target >= 1000000000 OR p_target <> round(p_target, 6) THEN
    RAISE EXCEPTION 'amount must be between 0 and 1000000000 with at most 6 decimals' USING ERRCODE = 'invalid_parameter_value';
  END IF;
  SELECT a.name INTO actor_name FROM actors a WHERE a.id = p_actor AND a.kind <> 'system';
  IF NOT FOUND THEN
    RAISE EXCEPTION 'actor_id: no trader %', p_actor USING ERRCODE = 'GG013';
  END IF;
  IF NOT EXISTS (SELECT 1 FROM resources r WHERE r.name = p_resource) THEN
    RAISE EXCEPTION 'resource: no resource %', p_resource USING ERRCODE = 'GG013';
  END IF;
  INSERT INTO balances (actor_id, resource) VALUES (p_actor, p_resource), (world, p_resource) ON CONFLICT DO NOTHING;
  -- Both rows, in the order every writer locks them.
  PERFORM 1 FROM balances b WHERE b.actor_id IN (p_actor, world) AND b.resource = p_resource ORDER BY b.actor_id, b.resource FOR UPDATE;
  SELECT b.amount INTO previous FROM balances b WHERE b.actor_id = p_actor AND b.resource = p_resource;
  difference := p_target - previous;
  IF difference <> 0 THEN
    proposal := gen_random_uuid();
    SELECT a.ledger_id INTO appended_id
      FROM ledger_append(ARRAY[proposal], ARRAY[0]::smallint[], ARRAY['adjustment'],
                         ARRAY[CASE WHEN difference > 0 THEN world ELSE p_actor END],
                         ARRAY[CASE WHEN difference > 0 THEN p_actor ELSE world END],
                         ARRAY[p_resource], ARRAY[abs(difference)],
                         ARRAY[jsonb_build_object('admin_user', who, 'action', p_action,
                                                  'previous', trim_scale(previous)::text, 'target', trim_scale(p_target)::text)],
                         p_validator_version, false) AS a;
  END IF;
  change := jsonb_build_object('actor_id', p_actor, 'actor', actor_name, 'resource', p_resource,
                               'previous', trim_scale(previous), 'amount', trim_scale(p_target), 'adjustment', trim_scale(difference),
                               'ledger_id', appended_id, 'proposal_id', proposal);
  INSERT INTO admin_audit (admin_user, action, payload, outcome)
  VALUES (who, p_action, audit_bounded(jsonb_build_object('request', p_request, 'result', change)), 'applied');
  RETURN change;
END
$$;

-- Halts (p_enabled) or resumes /execute on every replica; needs the operator role.
CREATE FUNCTION admin_set_breaker(p_key text, p_enabled boolean, p_reason text, p_request jsonb) RETURNS jsonb
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
  who text := require_key(p_key, 'operator');
  state jsonb;
BEGIN
  IF p_enabled IS NULL THEN
    RAISE EXCEPTION 'enabled must be true or false' USING ERRCODE = 'invalid_parameter_value';
  END IF;
  UPDATE control c SET breaker_on = p_enabled, reason = left(p_reason, 500), changed_by = who, changed_at = now() WHERE c.id = 1
  RETURNING jsonb_build_object('enabled', c.breaker_on, 'reason', c.reason, 'changed_by', c.changed_by,
                               'changed_at', to_char(c.changed_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'))
  INTO state;
  INSERT INTO admin_audit (admin_user, action, payload, outcome)
  VALUES (who, 'admin.circuit_breaker', audit_bounded(jsonb_build_object('request', p_request, 'result', state)), 'applied');
  PERFORM pg_notify('gridgov_events', (jsonb_build_object('type', 'breaker') || state)::text);
  RETURN state;
END
$$;

DO $$
BEGIN
  REVOKE EXECUTE ON FUNCTION admin_set_balance(text, text, uuid, text, numeric, jsonb, text), admin_set_breaker(text, boolean, text, jsonb) FROM PUBLIC;
  IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'gridgov_app') THEN
    GRANT EXECUTE ON FUNCTION admin_set_balance(text, text, uuid, text, numeric, jsonb, text), admin_set_breaker(text, boolean, text, jsonb) TO gridgov_app;
  END IF;
END
$$;
