-- Every business rejection, once; replays answer from here.
CREATE TABLE rejected_proposals (
  proposal_id           uuid PRIMARY KEY,
  validation_error_code text NOT NULL,
  message               text NOT NULL,
  proposal_json         jsonb NOT NULL,
  canonical             text NOT NULL,
  validator_version     text NOT NULL,
  rejected_at           timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX rejected_proposals_code ON rejected_proposals (validation_error_code);
CREATE INDEX rejected_proposals_at ON rejected_proposals (rejected_at);

-- Every admin action, allowed or denied, and every idempotency conflict.
CREATE TABLE admin_audit (
  id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  admin_user text NOT NULL,
  action     text NOT NULL,
  payload    jsonb NOT NULL DEFAULT '{}'::jsonb,
  outcome    text NOT NULL,
  at         timestamptz NOT NULL DEFAULT now()
);

-- Single-row control state shared by every validator replica.
CREATE TABLE control (
  id         smallint PRIMARY KEY DEFAULT 1 CHECK (id = 1),
  breaker_on boolean NOT NULL DEFAULT false,
  reason     text,
  changed_by text,
  changed_at timestamptz NOT NULL DEFAULT now()
);
INSERT INTO control (id) VALUES (1);
