-- The outbox changes state only through the dispatcher's transitions. The application role could
-- update the delivery columns directly: marking every pending ticket delivered a year ago let
-- prune_outbox delete them all. Now a row is claimed (attempt counted, lease set), then settled by
-- the attempt that claimed it: delivered with its reference, retried later, or dead. Times come from
-- the database's clock; a stale attempt (the row was claimed again since) changes nothing.
-- prune_outbox, unchanged, removes only rows finished longer ago than its retention.

-- Leases up to p_batch due rows (1..1000) for p_lease_ms (1 s .. 1 h); each with its rejection.
CREATE FUNCTION outbox_claim(p_batch integer, p_lease_ms integer)
RETURNS TABLE (id bigint, topic text, dedupe_key text, attempts integer, proposal_id text, error_code text, message text,
               proposal_json jsonb, rejected_at timestamptz)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
BEGIN
  IF p_batch IS NULL OR p_batch NOT BETWEEN 1 AND 1000 THEN
    RAISE EXCEPTION 'batch: from 1 to 1000 rows, got %', p_batch USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF p_lease_ms IS NULL OR p_lease_ms NOT BETWEEN 1000 AND 3600000 THEN
    RAISE EXCEPTION 'lease: from 1000 to 3600000 ms, got %', p_lease_ms USING ERRCODE = 'invalid_parameter_value';
  END IF;
  RETURN QUERY
    WITH due AS (
      SELECT o.id FROM outbox o WHERE o.status = 'pending' AND o.next_attempt_at <= now()
       ORDER BY o.next_attempt_at, o.id LIMIT p_batch FOR UPDATE SKIP LOCKED
    ), claimed AS (
      UPDATE outbox o SET attempts = o.attempts + 1, next_attempt_at = now() + make_interval(secs => p_lease_ms / 1000.0), updated_at = now()
        FROM due WHERE o.id = due.id
      RETURNING o.id, o.topic, o.dedupe_key, o.attempts, o.payload->>'proposal_id' AS proposal_id
    )
    SELECT c.id, c.topic, c.dedupe_key, c.attempts, c.proposal_id, r.validation_error_code, r.message, r.proposal_json, r.rejected_at
      FROM claimed c JOIN rejected_proposals r ON r.proposal_id = c.proposal_id::uuid;
END
$$;

-- The outcome of attempt p_attempt: 'delivered' (p_ref, the target's reference), 'retry' (again
-- after p_delay_ms, at most a week) or 'dead'. False when the row is no longer that attempt's.
CREATE FUNCTION outbox_settle(p_id bigint, p_attempt integer, p_outcome text, p_ref jsonb, p_error text, p_delay_ms double precision)
RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
  delay interval := make_interval(secs => least(greatest(coalesce(p_delay_ms, 0), 0), 604800000) / 1000.0);
BEGIN
  IF p_outcome IS NULL OR p_outcome NOT IN ('delivered', 'retry', 'dead') THEN
    RAISE EXCEPTION 'outcome: delivered, retry or dead, got %', coalesce(p_outcome, 'NULL') USING ERRCODE = 'invalid_parameter_value';
  END IF;
  UPDATE outbox o
     SET status = CASE p_outcome WHEN 'retry' THEN 'pending' ELSE p_outcome END,
         external_ref = CASE WHEN p_outcome = 'delivered' THEN p_ref ELSE o.external_ref END,
         last_error = CASE WHEN p_outcome = 'delivered' THEN NULL ELSE left(p_error, 2000) END,
         next_attempt_at = CASE WHEN p_outcome = 'retry' THEN now() + delay ELSE o.next_attempt_at END,
         updated_at = now()
   WHERE o.id = p_id AND o.status = 'pending' AND o.attempts = p_attempt;
  RETURN FOUND;
END
$$;

-- Gives attempt p_attempt's row back for later without counting the attempt (a target's rate
-- limit, or a stop), to be tried after p_wait_ms (at most a day).
CREATE FUNCTION outbox_reschedule(p_id bigint, p_attempt integer, p_wait_ms double precision, p_error text) RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
BEGIN
  UPDATE outbox o SET attempts = greatest(0, o.attempts - 1), last_error = coalesce(left(p_error, 2000), o.last_error), updated_at = now(),
         next_attempt_at = now() + make_interval(secs => least(greatest(coalesce(p_wait_ms, 0), 0), 86400000) / 1000.0)
   WHERE o.id = p_id AND o.status = 'pending' AND o.attempts = p_attempt;
  RETURN FOUND;
END
$$;

-- Extends attempt p_attempt's lease by p_lease_ms (1 s .. 1 h); false when another claimed the row.
CREATE FUNCTION outbox_renew(p_id bigint, p_attempt integer, p_lease_ms integer) RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
BEGIN
  IF p_lease_ms IS NULL OR p_lease_ms NOT BETWEEN 1000 AND 3600000 THEN
    RAISE EXCEPTION 'lease: from 1000 to 3600000 ms, got %', p_lease_ms USING ERRCODE = 'invalid_parameter_value';
  END IF;
  UPDATE outbox o SET next_attempt_at = now() + make_interval(secs => p_lease_ms / 1000.0)
   WHERE o.id = p_id AND o.status = 'pending' AND o.attempts = p_attempt;
  RETURN FOUND;
END
$$;

REVOKE EXECUTE ON FUNCTION outbox_claim(integer, integer), outbox_settle(bigint, integer, text, jsonb, text, double precision),
  outbox_reschedule(bigint, integer, double precision, text), outbox_renew(bigint, integer, integer) FROM PUBLIC;
DO $$
BEGIN
  IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'gridgov_app') THEN
    REVOKE INSERT, UPDATE, DELETE ON outbox FROM gridgov_app;
    GRANT EXECUTE ON FUNCTION outbox_claim(integer, integer), outbox_settle(bigint, integer, text, jsonb, text, double precision),
      outbox_reschedule(bigint, integer, double precision, text), outbox_renew(bigint, integer, integer) TO gridgov_app;
  END IF;
END
$$;
