-- How a caller proves its role to the database: it hands a definer function the API key it was
-- given, raw. The function hashes it as src/governance/keys.ts does (SHA-256, hex) and looks it
-- up; the application role never sees or decides a role.
--
-- The bootstrap key (GRIDGOV_ADMIN_KEY) holds every role and is no api_keys row: a login that
-- owns the schema registers its hash here (validator start, gridgov migrate). The application
-- role cannot read or write this table.
CREATE TABLE bootstrap_key (
  id            smallint PRIMARY KEY DEFAULT 1 CHECK (id = 1),
  key_hash      text NOT NULL CHECK (key_hash ~ '^[0-9a-f]{64}$'),
  registered_at timestamptz NOT NULL DEFAULT now()
);
DO $$
BEGIN
  IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'gridgov_app') THEN
    REVOKE ALL ON bootstrap_key FROM gridgov_app;
  END IF;
END
$$;

-- The caller a raw key proves, with the roles it holds (as GRANTS in src/governance/auth.ts);
-- no row for an unknown or revoked key.
CREATE FUNCTION key_caller(p_key text) RETURNS TABLE (name text, roles text[], revoked boolean)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
  WITH h AS (SELECT encode(sha256(convert_to(coalesce(p_key, ''), 'UTF8')), 'hex') AS key_hash)
  SELECT 'bootstrap', ARRAY['viewer', 'operator', 'admin', 'system'], false
    FROM bootstrap_key b, h WHERE b.key_hash = h.key_hash
  UNION ALL
  SELECT k.name,
         CASE k.role WHEN 'viewer' THEN ARRAY['viewer'] WHEN 'operator' THEN ARRAY['viewer', 'operator']
                     WHEN 'admin' THEN ARRAY['viewer', 'operator', 'admin'] WHEN 'system' THEN ARRAY['viewer', 'system']
                     ELSE ARRAY[k.role] END,
         k.revoked_at IS NOT NULL
    FROM api_keys k, h WHERE k.key_hash = h.key_hash
  LIMIT 1
$$;
REVOKE EXECUTE ON FUNCTION key_caller(text) FROM PUBLIC;

-- The name of the key's holder, or an error: GG010 unknown or revoked key, GG011 role too weak.
CREATE FUNCTION require_key(p_key text, p_role text) RETURNS text
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
  c record;
BEGIN
  SELECT * INTO c FROM key_caller(p_key);
  IF NOT FOUND OR p_key IS NULL OR p_key = '' THEN
    RAISE EXCEPTION 'unknown API key' USING ERRCODE = 'GG010';
  ELSIF c.revoked THEN
    RAISE EXCEPTION 'this API key has been revoked' USING ERRCODE = 'GG010';
  ELSIF NOT p_role = ANY (c.roles) THEN
    RAISE EXCEPTION 'this action needs the % role', p_role USING ERRCODE = 'GG011';
  END IF;
  RETURN c.name;
END
$$;
REVOKE EXECUTE ON FUNCTION require_key(text, text) FROM PUBLIC;

-- An audit payload as src/governance/audit.ts bounds it: an object of at most 8 KiB of JSON.
CREATE FUNCTION audit_bounded(p_payload jsonb) RETURNS jsonb LANGUAGE sql IMMUTABLE AS $$
  SELECT CASE WHEN p_payload IS NULL THEN '{}'::jsonb
              WHEN jsonb_typeof(p_payload) <> 'object' THEN jsonb_build_object('body_type', jsonb_typeof(p_payload))
              WHEN length(p_payload::text) > 8192 THEN jsonb_build_object('truncated', left(p_payload::text, 200))
              ELSE p_payload END
$$;

-- Records a refused call. It can write nothing else: the outcome must be an error code (never
-- 'applied'), and the name is the one the presented key proves ('anonymous' without a key,
-- '(invalid key)' for an unknown or revoked one), not one the caller chooses.
CREATE FUNCTION audit_denied(p_key text, p_action text, p_payload jsonb, p_outcome text) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
  who text;
BEGIN
  IF p_outcome IS NULL OR p_outcome !~ '^[A-Z][A-Z0-9_]{0,63}$' THEN
    RAISE EXCEPTION 'outcome: a refusal is recorded with an error code, not %', coalesce(quote_literal(p_outcome), 'NULL')
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF p_action IS NULL OR p_action !~ '^[a-z][a-z0-9_.-]{0,63}$' THEN
    RAISE EXCEPTION 'action: must be a short lowercase name' USING ERRCODE = 'invalid_parameter_value';
  END IF;
  who := CASE WHEN p_key IS NULL OR p_key = '' THEN 'anonymous'
              ELSE coalesce((SELECT c.name FROM key_caller(p_key) c WHERE NOT c.revoked), '(invalid key)') END;
  INSERT INTO admin_audit (admin_user, action, payload, outcome) VALUES (who, p_action, audit_bounded(p_payload), p_outcome);
END
$$;

-- GET /admin/audit is itself audited: a viewer's read, recorded as applied.
CREATE FUNCTION audit_read(p_key text, p_payload jsonb) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
  INSERT INTO admin_audit (admin_user, action, payload, outcome)
  VALUES (require_key(p_key, 'viewer'), 'admin.audit', audit_bounded(p_payload), 'applied');
END
$$;

DO $$
BEGIN
  REVOKE EXECUTE ON FUNCTION audit_denied(text, text, jsonb, text), audit_read(text, jsonb) FROM PUBLIC;
  IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'gridgov_app') THEN
    GRANT EXECUTE ON FUNCTION audit_denied(text, text, jsonb, text), audit_read(text, jsonb) TO gridgov_app;
  END IF;
END
$$;
