-- Reads of the governance records are audited too: the audit itself and the aggregated failed
-- authentications. One function for both, naming the read; the key proves the viewer role.
CREATE FUNCTION audit_read(p_key text, p_action text, p_payload jsonb) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
  IF p_action NOT IN ('admin.audit', 'admin.auth_failures') THEN
    RAISE EXCEPTION 'audit_read: % is not an audited read', p_action USING ERRCODE = '22023';
  END IF;
  INSERT INTO admin_audit (admin_user, action, payload, outcome)
  VALUES (require_key(p_key, 'viewer'), p_action, audit_bounded(p_payload), 'applied');
END
$$;

DO $$
BEGIN
  REVOKE EXECUTE ON FUNCTION audit_read(text, text, jsonb) FROM PUBLIC;
  IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'gridgov_app') THEN
    GRANT EXECUTE ON FUNCTION audit_read(text, text, jsonb) TO gridgov_app;
  END IF;
END
$$;
