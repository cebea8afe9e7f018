-- The role validators connect as (through a LOGIN role that is a member of it). It may read and
-- append, but never rewrite history or alter the schema: no UPDATE, DELETE or TRUNCATE on the
-- append-only tables, no DELETE or TRUNCATE anywhere, and no CREATE (it owns nothing). Where the
-- migrating role may not create roles (some managed servers), this step is skipped with a notice.
DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'gridgov_app') THEN
    CREATE ROLE gridgov_app NOLOGIN;
  END IF;
  EXECUTE format('GRANT CONNECT ON DATABASE %I TO gridgov_app', current_database());
  GRANT USAGE ON SCHEMA public TO gridgov_app;
  GRANT SELECT, INSERT, UPDATE ON ALL TABLES IN SCHEMA public TO gridgov_app;
  REVOKE UPDATE ON ledger, ledger_blocks, checkpoints, checkpoint_balances, admin_audit, rejected_proposals, schema_migrations FROM gridgov_app;
  REVOKE INSERT ON schema_migrations FROM gridgov_app;
  GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO gridgov_app;
  ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT, INSERT, UPDATE ON TABLES TO gridgov_app;
  ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT ON SEQUENCES TO gridgov_app;
EXCEPTION WHEN insufficient_privilege THEN
  RAISE NOTICE 'gridgov_app was not set up (%): grant the validator''s role by hand', SQLERRM;
END
$$;
