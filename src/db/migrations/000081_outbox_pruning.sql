-- Delivered and skipped outbox rows are done with; past a retention period they are pruned. The
-- validator's role may not delete anything, so pruning goes through this one function, which
-- removes only finished rows older than the given number of days (never pending or dead ones),
-- a bounded batch per call so it never holds locks for long.
CREATE INDEX outbox_finished ON outbox (updated_at) WHERE status IN ('delivered', 'skipped');

CREATE FUNCTION prune_outbox(retention_days integer, batch integer DEFAULT 10000) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
DECLARE
  pruned bigint;
BEGIN
  IF retention_days IS NULL OR retention_days < 1 THEN
    RAISE EXCEPTION 'retention_days must be at least 1, got %', retention_days USING ERRCODE = '22023';
  END IF;
  DELETE FROM public.outbox
   WHERE id IN (SELECT id FROM public.outbox
                 WHERE status IN ('delivered', 'skipped')
                   AND updated_at < now() - make_interval(days => retention_days)
                 ORDER BY updated_at
                 LIMIT greatest(1, least(batch, 100000)));
  GET DIAGNOSTICS pruned = ROW_COUNT;
  RETURN pruned;
END
$$;
REVOKE ALL ON FUNCTION prune_outbox(integer, integer) FROM PUBLIC;
DO $$
BEGIN
  IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'gridgov_app') THEN
    GRANT EXECUTE ON FUNCTION prune_outbox(integer, integer) TO gridgov_app;
  END IF;
END
$$;
