-- A refusal is audited with one of the API's error codes, never with a success: audit_denied
-- accepted any upper-case word, 'APPLIED' included, so the validator's login could write an audit
-- row that reads like an applied override. The codes are the registry's (src/domain/errors.ts;
-- test/security/wall.test.ts fails when the two lists differ): a new code is one INSERT in a new
-- migration.
CREATE TABLE error_codes (
  code text PRIMARY KEY CHECK (code ~ '^[A-Z][A-Z0-9_]{0,63}$')
);
INSERT INTO error_codes (code) VALUES
  ('INSUFFICIENT_BALANCE'), ('INVALID_ACTOR'), ('INVALID_RESOURCE'), ('SAME_ACTOR'), ('CONSTRAINT_VIOLATION'), ('FORBIDDEN_ACTOR'),
  ('MALFORMED_PROPOSAL'), ('IDEMPOTENCY_CONFLICT'), ('RUN_CONFLICT'), ('EPOCH_OUT_OF_ORDER'), ('SCENARIO_MISMATCH'),
  ('CIRCUIT_BREAKER_OPEN'), ('DATABASE_UNAVAILABLE'), ('COMMIT_FAILED'), ('BAD_REQUEST'), ('UNAUTHORIZED'), ('FORBIDDEN'),
  ('NOT_FOUND'), ('PAYLOAD_TOO_LARGE'), ('UNSUPPORTED_MEDIA_TYPE'), ('RATE_LIMITED'), ('INTERNAL_ERROR');

-- Records a refused call: the name is the one the presented key proves ('anonymous' without a key,
-- '(invalid key)' for an unknown or revoked one), the outcome a registered error code; a call
-- refused for a key that proves nothing is recorded as UNAUTHORIZED whatever the caller says.
CREATE OR REPLACE FUNCTION audit_denied(p_key text, p_action text, p_payload jsonb, p_outcome text) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
  who text;
  outcome text := p_outcome;
BEGIN
  IF NOT EXISTS (SELECT 1 FROM error_codes e WHERE e.code = p_outcome) THEN
    RAISE EXCEPTION 'outcome: a refusal is recorded with a registered error code, not %', coalesce(quote_literal(p_outcome), 'NULL')
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF p_action IS NULL OR p_action !~ '^[a-z][a-z0-9_.-]{0,63}$' THEN
    RAISE EXCEPTION 'action: must be a short lowercase name' USING ERRCODE = 'invalid_parameter_value';
  END IF;
  who := CASE WHEN p_key IS NULL OR p_key = '' THEN 'anonymous'
              ELSE coalesce((SELECT c.name FROM key_caller(p_key) c WHERE NOT c.revoked), '(invalid key)') END;
  IF who = '(invalid key)' AND outcome <> 'RATE_LIMITED' THEN
    outcome := 'UNAUTHORIZED';
  END IF;
  INSERT INTO admin_audit (admin_user, action, payload, outcome) VALUES (who, p_action, audit_bounded(p_payload), outcome);
END
$$;

DO $$
BEGIN
  IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'gridgov_app') THEN
    REVOKE ALL ON error_codes FROM gridgov_app;
    GRANT SELECT ON error_codes TO gridgov_app;
  END IF;
END
$$;
