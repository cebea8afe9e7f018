-- Statistics that keep up with the write path's tables. The write path's statements are planned
-- once per session and kept until the statistics of a table they read change. A table that was
-- nearly empty when they were planned (the ledger of a new world, the rejections) is scanned whole
-- by those plans, for every proposal, until ANALYZE runs; autovacuum looks at most once a minute,
-- and in that minute a new world's ledger grows from dozens of rows to a hundred thousand. This
-- function analyzes each of these tables once it has changed by more rows than its statistics
-- count (at least 1,000): a table is analyzed when it has doubled, so a handful of times while
-- it is small and rarely once it is large. The ledger guard calls it with its verdict, once a
-- second for the deployment. A table that autovacuum is working on is left to it: ANALYZE would
-- wait for its lock, and with it the verdict. Returns the tables it analyzed.
CREATE FUNCTION refresh_write_statistics() RETURNS text[]
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
       AND s.n_mod_since_analyze > greatest(1000, c.reltuples)
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

REVOKE EXECUTE ON FUNCTION refresh_write_statistics() FROM PUBLIC;
DO $$
BEGIN
  IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'gridgov_app') THEN
    GRANT EXECUTE ON FUNCTION refresh_write_statistics() TO gridgov_app;
  END IF;
END
$$;
