-- refresh_write_statistics again, with one change: a table is analyzed when it has grown to twice
-- the rows its statistics count (at least 1,000), not when more of its rows were changed than that.
-- Balances are updated by every trade and never grow with them: among 1,000 actors 000141 analyzed
-- them once a second, for the deployment. Each ANALYZE invalidates every session's cached plans
-- that read the table, so every validator connection then planned the write path's statements
-- again, a burst of CPU on the write path each second. The ledger, the rejections and the outbox
-- grow by inserts, for which both rules agree. Same signature, result and privileges.

CREATE OR REPLACE FUNCTION refresh_write_statistics() RETURNS text[]
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp SET lock_timeout = '100ms' AS $$
DECLARE
  t text;
  analyzed text[] := '{}';
BEGIN
  IF NOT pg_try_advisory_xact_lock(4711000014) THEN
    RETURN analyzed;
  END IF;
  FOR t IN
    SELECT s.relname FROM pg_stat_user_tables s JOIN pg_class c ON c.oid = s.relid
     WHERE s.schemaname = 'public' AND s.relname IN ('ledger', 'rejected_proposals', 'balances', 'outbox')
       AND s.n_live_tup >= greatest(1000, 2 * c.reltuples)
     ORDER BY s.relname
  LOOP
    BEGIN
      EXECUTE format('ANALYZE %I', t);
      analyzed := analyzed || t;
    EXCEPTION WHEN lock_not_available THEN
      NULL; -- vacuumed or analyzed by another session right now
    END;
  END LOOP;
  RETURN analyzed;
END
$$;
