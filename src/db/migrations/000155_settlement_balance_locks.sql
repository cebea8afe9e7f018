-- Row locks on the money tables are the owner's functions' alone. The application role held
-- UPDATE (is_world) on balances so that settlement could lock balance rows FOR UPDATE, and INSERT
-- to create missing ones: any session of that login could then lock every balance row in an open
-- transaction and stall every trade. Settlement now locks through this function, which needs the
-- system key it settles with, and the role keeps SELECT alone.

-- Locks the balance rows of (actor, resource) pairs in the one sorted order (no deadlocks with
-- record_proposals), creating missing ones at zero; returns them with their amounts.
CREATE FUNCTION lock_run_balances(p_key text, p_actor uuid[], p_resource text[])
RETURNS TABLE (actor_id uuid, resource text, amount numeric)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
  sorted_actor uuid[];
  sorted_resource text[];
BEGIN
  PERFORM require_key(p_key, 'system');
  IF coalesce(cardinality(p_actor), 0) <> coalesce(cardinality(p_resource), 0) THEN
    RAISE EXCEPTION 'actors and resources: one resource per actor' USING ERRCODE = 'invalid_parameter_value';
  END IF;
  SELECT array_agg(p.actor ORDER BY p.actor, p.resource), array_agg(p.resource ORDER BY p.actor, p.resource)
    INTO sorted_actor, sorted_resource
    FROM (SELECT DISTINCT u.actor, u.resource FROM unnest(p_actor, p_resource) AS u(actor, resource)
           WHERE u.actor IS NOT NULL AND u.resource IS NOT NULL
             AND EXISTS (SELECT 1 FROM actors a WHERE a.id = u.actor) AND EXISTS (SELECT 1 FROM resources r WHERE r.name = u.resource)) AS p;
  RETURN QUERY
    SELECT l.actor, l.resource, l.amount
      FROM unnest(sorted_actor, sorted_resource, lock_balances(sorted_actor, sorted_resource)) AS l(actor, resource, amount);
END
$$;

REVOKE EXECUTE ON FUNCTION lock_run_balances(text, uuid[], text[]) FROM PUBLIC;
DO $$
BEGIN
  IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'gridgov_app') THEN
    REVOKE INSERT, UPDATE, DELETE ON balances FROM gridgov_app;
    GRANT EXECUTE ON FUNCTION lock_run_balances(text, uuid[], text[]) TO gridgov_app;
  END IF;
END
$$;
