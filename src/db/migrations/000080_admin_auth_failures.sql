-- Failed admin authentications (no key, a malformed, unknown or revoked key), counted per client
-- address per minute. One row per address and minute is both the limit every replica shares and
-- the audit of refused junk calls: a flood of junk keys grows a counter, not the audit log.
-- Calls made with a valid key are audited one by one in admin_audit, as before.
CREATE TABLE admin_auth_failures (
  client_address text NOT NULL,
  minute         timestamptz NOT NULL,
  failures       integer NOT NULL CHECK (failures > 0),
  last_action    text NOT NULL,
  last_outcome   text NOT NULL,
  PRIMARY KEY (client_address, minute)
);
CREATE INDEX admin_auth_failures_minute ON admin_auth_failures (minute);

-- The validator's role counts failures (insert, or update the minute's row) and reads them back;
-- it may not delete them. Granted explicitly, whatever the schema's default privileges say.
DO $$
BEGIN
  IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'gridgov_app') THEN
    REVOKE ALL ON admin_auth_failures FROM gridgov_app;
    GRANT SELECT, INSERT, UPDATE ON admin_auth_failures TO gridgov_app;
  END IF;
END
$$;
