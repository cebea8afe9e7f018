-- The database wall's foundations, checked rather than hoped for. Fails (SQLSTATE GG016, and
-- `gridgov migrate` exits 2) when something the wall stands on could not be built:
--
-- * gridgov_app must exist: 000040 only noticed when the migrating login could not create it,
--   and the next step of a set-up then failed far from the cause.
-- * Nobody but the owner may create objects in the schema: a function the validator's login
--   creates in `public` can outrank a built-in for a call inside a definer function (PostgreSQL 14
--   and older let PUBLIC create there by default, and so do clusters upgraded from them).
-- * No temporary tables for PUBLIC: a temporary table shadows a table of the same name for
--   functions that search pg_temp first.
--
-- The application role's sessions could also take advisory locks (2,000,000 of them filled the
-- lock table, and the superuser could not even connect; one held the verifier's turn for every
-- replica) and signal other sessions of the same login. Only a superuser can revoke built-in
-- functions: when this login is one, it does, granting them back to the owner; otherwise it warns
-- and names the statements a superuser runs once (docs/security.md, "Set-up").

-- The built-ins the validator's login must not call: they take advisory locks or signal sessions.
CREATE FUNCTION wall_guarded_builtins() RETURNS SETOF regprocedure
LANGUAGE sql STABLE SET search_path = pg_catalog, public, pg_temp AS $$
  SELECT p.oid::regprocedure FROM pg_proc p
   WHERE p.pronamespace = 'pg_catalog'::regnamespace
     AND (p.proname LIKE 'pg\_advisory\_%' OR p.proname LIKE 'pg\_try\_advisory\_%' OR p.proname IN ('pg_terminate_backend', 'pg_cancel_backend'))
   ORDER BY 1
$$;
REVOKE EXECUTE ON FUNCTION wall_guarded_builtins() FROM PUBLIC;

DO $$
DECLARE
  fn record;
  missing text[] := '{}';
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'gridgov_app') THEN
    RAISE EXCEPTION 'the role gridgov_app does not exist and this login (%) could not create it', current_user
      USING ERRCODE = 'GG016',
            HINT = 'give the owner CREATEROLE, or have a superuser run: CREATE ROLE gridgov_app NOLOGIN; then migrate again';
  END IF;

  BEGIN
    REVOKE CREATE ON SCHEMA public FROM PUBLIC;
    REVOKE CREATE ON SCHEMA public FROM gridgov_app;
  EXCEPTION WHEN insufficient_privilege THEN
    NULL;
  END;
  IF EXISTS (SELECT 1 FROM pg_namespace n, aclexplode(coalesce(n.nspacl, acldefault('n', n.nspowner))) a
              WHERE n.nspname = 'public' AND a.privilege_type = 'CREATE' AND a.grantee = 0)
     OR has_schema_privilege('gridgov_app', 'public', 'CREATE') THEN
    RAISE EXCEPTION 'PUBLIC or gridgov_app may still create objects in schema public, and this login (%) could not revoke it', current_user
      USING ERRCODE = 'GG016', HINT = 'as a superuser: REVOKE CREATE ON SCHEMA public FROM PUBLIC; then migrate again';
  END IF;

  BEGIN
    EXECUTE format('REVOKE TEMPORARY ON DATABASE %I FROM PUBLIC', current_database());
    EXECUTE format('REVOKE TEMPORARY ON DATABASE %I FROM gridgov_app', current_database());
    EXECUTE format('GRANT TEMPORARY ON DATABASE %I TO %I', current_database(), current_user);
  EXCEPTION WHEN insufficient_privilege THEN
    NULL;
  END;
  IF has_database_privilege('gridgov_app', current_database(), 'TEMPORARY') THEN
    RAISE EXCEPTION 'gridgov_app may still create temporary tables in %, and this login (%) could not revoke it', current_database(), current_user
      USING ERRCODE = 'GG016', HINT = format('as a superuser: REVOKE TEMPORARY ON DATABASE %I FROM PUBLIC; then migrate again', current_database());
  END IF;

  FOR fn IN SELECT g AS sig FROM wall_guarded_builtins() g LOOP
    IF (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) THEN
      EXECUTE format('REVOKE EXECUTE ON FUNCTION %s FROM PUBLIC', fn.sig);
      EXECUTE format('GRANT EXECUTE ON FUNCTION %s TO %I', fn.sig, current_user);
    END IF;
    IF has_function_privilege('gridgov_app', fn.sig, 'EXECUTE') THEN
      missing := missing || format('REVOKE EXECUTE ON FUNCTION %s FROM PUBLIC; GRANT EXECUTE ON FUNCTION %s TO %I;', fn.sig, fn.sig, current_user);
    END IF;
  END LOOP;
  IF cardinality(missing) > 0 THEN
    RAISE WARNING 'the validator''s login can still take advisory locks and signal sessions; a superuser should run in this database: %',
      array_to_string(missing, ' ');
  END IF;
END
$$;
