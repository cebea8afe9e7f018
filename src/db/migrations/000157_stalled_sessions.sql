-- A session of the application role that stays inside a transaction holds whatever its functions
-- locked (a group's balance rows, a guard's turn) and stalls everyone waiting on it; the role can
-- lift its own timeouts. Every validator's ledger guard calls this on each tick: it ends the
-- sessions of gridgov_app's members idle in a transaction for longer than p_idle_ms (at least
-- 1 s), and those whose transaction is older than that and blocks another session (a sleep after
-- taking locks), and returns how many. The owner needs the right to signal them (a superuser, or
-- a member of pg_signal_backend); without it, nothing is ended and the count is 0.
CREATE FUNCTION end_stalled_sessions(p_idle_ms integer) RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
  ended integer := 0;
  s record;
BEGIN
  IF p_idle_ms IS NULL OR p_idle_ms < 1000 THEN
    RAISE EXCEPTION 'idle: at least 1000 ms, got %', p_idle_ms USING ERRCODE = 'invalid_parameter_value';
  END IF;
  FOR s IN
    SELECT a.pid FROM pg_stat_activity a
     WHERE a.datname = current_database() AND a.pid <> pg_backend_pid()
       AND (a.state IN ('idle in transaction', 'idle in transaction (aborted)')
            AND a.state_change < clock_timestamp() - make_interval(secs => p_idle_ms / 1000.0)
            OR a.xact_start < clock_timestamp() - make_interval(secs => p_idle_ms / 1000.0)
            AND EXISTS (SELECT 1 FROM pg_stat_activity w WHERE w.wait_event_type = 'Lock' AND a.pid = ANY (pg_blocking_pids(w.pid))))
       AND a.usesysid IN (SELECT m.member FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid WHERE g.rolname = 'gridgov_app')
  LOOP
    BEGIN
      IF pg_terminate_backend(s.pid) THEN
        ended := ended + 1;
      END IF;
    EXCEPTION WHEN insufficient_privilege THEN
      NULL;
    END;
  END LOOP;
  RETURN ended;
END
$$;
REVOKE EXECUTE ON FUNCTION end_stalled_sessions(integer) FROM PUBLIC;
DO $$
BEGIN
  IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'gridgov_app') THEN
    GRANT EXECUTE ON FUNCTION end_stalled_sessions(integer) TO gridgov_app;
  END IF;
END
$$;
