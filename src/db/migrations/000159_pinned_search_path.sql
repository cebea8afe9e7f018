-- Every function of the schema resolves names with pg_catalog first and pg_temp last, whoever calls
-- it and whatever that session's search_path: a built-in cannot be outranked by an object in
-- `public`, and no temporary table can stand in for one of ours (a temporary `actors` table had
-- made balances_pin_world mark a trader's rows as world's). Definer functions had
-- `public, pg_temp`, which put pg_catalog after public; trigger functions had nothing, so they ran
-- with the caller's path, pg_temp first. test/security/wall.test.ts checks every function,
-- including those of later migrations, which set the same path themselves.
DO $$
DECLARE
  fn record;
BEGIN
  FOR fn IN
    SELECT p.oid::regprocedure AS sig FROM pg_proc p
     WHERE p.pronamespace = 'public'::regnamespace
       AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e')
     ORDER BY 1
  LOOP
    EXECUTE format('ALTER FUNCTION %s SET search_path = pg_catalog, public, pg_temp', fn.sig);
  END LOOP;
END
$$;
