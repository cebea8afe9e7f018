-- The application role (validators, the dispatcher) reads every table but writes directly only
-- where a forged row moves nothing: the dispatcher's outbox bookkeeping, runs and epochs, and new
-- zero balance rows. Every other write goes through SECURITY DEFINER functions (000071-000076)
-- that check what they are asked to do, and where a role is needed, the API key that asks.
--
-- Future tables: SELECT only by default. A migration that wants the application to write a table
-- grants exactly the columns and privileges it needs, next to the CREATE TABLE.
DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'gridgov_app') THEN
    RAISE NOTICE 'gridgov_app does not exist: its privileges were not narrowed';
    RETURN;
  END IF;
  REVOKE INSERT, UPDATE ON ALL TABLES IN SCHEMA public FROM gridgov_app;
  -- SELECT ... FOR UPDATE needs UPDATE on some column: runs and epochs are locked per run.
  GRANT INSERT, UPDATE ON runs, epochs TO gridgov_app;
  GRANT UPDATE (status, attempts, next_attempt_at, last_error, external_ref, updated_at) ON outbox TO gridgov_app;
  -- A missing balance row is created at zero (amount and last_ledger_id keep their defaults), and
  -- the rows are locked FOR UPDATE, which needs an UPDATE grant: is_world, which a trigger pins.
  GRANT INSERT (actor_id, resource, is_world), UPDATE (is_world) ON balances TO gridgov_app;
  REVOKE USAGE ON ALL SEQUENCES IN SCHEMA public FROM gridgov_app;
  GRANT SELECT ON ALL SEQUENCES IN SCHEMA public TO gridgov_app;
  ALTER DEFAULT PRIVILEGES IN SCHEMA public REVOKE INSERT, UPDATE ON TABLES FROM gridgov_app;
  ALTER DEFAULT PRIVILEGES IN SCHEMA public REVOKE USAGE ON SEQUENCES FROM gridgov_app;
EXCEPTION WHEN insufficient_privilege THEN
  RAISE NOTICE 'gridgov_app''s privileges were not narrowed (%): revoke them by hand', SQLERRM;
END
$$;

-- Whatever a writer says, is_world follows the actor's kind: only world may go negative.
CREATE FUNCTION balances_pin_world() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  NEW.is_world := EXISTS (SELECT 1 FROM actors a WHERE a.id = NEW.actor_id AND a.kind = 'system');
  RETURN NEW;
END
$$;
CREATE TRIGGER balances_pin_world BEFORE INSERT OR UPDATE OF is_world ON balances
  FOR EACH ROW EXECUTE FUNCTION balances_pin_world();

-- ledger_append writes ledger rows and balances unchecked: only definer functions may call it.
-- commit_decisions (000050) still records /execute's decisions from the application role; it
-- becomes a definer function so that it keeps working without table grants, executable by
-- gridgov_app alone. It is as safe as the rules it checks. Where an earlier migration replaced it
-- under the same signature, this only narrows who may run it; where the signature is gone, this
-- does nothing.
REVOKE EXECUTE ON FUNCTION ledger_append(uuid[], smallint[], text[], uuid[], uuid[], text[], numeric[], jsonb[], text, boolean) FROM PUBLIC;
DO $$
BEGIN
  IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'gridgov_app') THEN
    REVOKE EXECUTE ON FUNCTION ledger_append(uuid[], smallint[], text[], uuid[], uuid[], text[], numeric[], jsonb[], text, boolean) FROM gridgov_app;
  END IF;
END
$$;
DO $$
DECLARE
  fn regprocedure := to_regprocedure('commit_decisions(bigint[], text, uuid[], text[], numeric[], uuid[], smallint[], uuid[], uuid[], text[], numeric[], jsonb[], uuid[], text[], text[], text[], text[], text[], boolean[], text[], text[], text)');
BEGIN
  IF fn IS NULL THEN RETURN; END IF;
  EXECUTE format('REVOKE EXECUTE ON FUNCTION %s FROM PUBLIC', fn);
  IF NOT (SELECT prosecdef FROM pg_proc WHERE oid = fn) THEN
    EXECUTE format('ALTER FUNCTION %s SECURITY DEFINER SET search_path = public, pg_temp', fn);
  END IF;
  IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'gridgov_app') THEN
    EXECUTE format('GRANT EXECUTE ON FUNCTION %s TO gridgov_app', fn);
  END IF;
END
$$;
