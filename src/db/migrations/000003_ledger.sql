-- The append-only ledger: the single source of truth. A proposal may carry several legs that
-- apply atomically; (proposal_id, leg) is the idempotency key.
CREATE TABLE ledger (
  id                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  proposal_id       uuid NOT NULL,
  leg               smallint NOT NULL CHECK (leg >= 0),
  kind              text NOT NULL CHECK (kind IN ('trade', 'genesis', 'production', 'consumption', 'adjustment')),
  actor_from        uuid NOT NULL REFERENCES actors (id),
  actor_to          uuid NOT NULL REFERENCES actors (id),
  resource          text NOT NULL REFERENCES resources (name),
  amount            numeric(30, 6) NOT NULL CHECK (amount > 0),
  validator_version text NOT NULL,
  executed_at       timestamptz NOT NULL DEFAULT now(),
  metadata          jsonb NOT NULL DEFAULT '{}'::jsonb,
  CONSTRAINT ledger_distinct_actors CHECK (actor_from <> actor_to),
  CONSTRAINT ledger_proposal_leg UNIQUE (proposal_id, leg)
);
CREATE INDEX ledger_actor_from ON ledger (actor_from, id);
CREATE INDEX ledger_actor_to ON ledger (actor_to, id);

-- The database itself refuses to rewrite history, whatever the application does.
CREATE FUNCTION ledger_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'ledger is append-only: % refused', TG_OP USING ERRCODE = 'insufficient_privilege';
END
$$;
CREATE TRIGGER ledger_append_only BEFORE UPDATE OR DELETE ON ledger
  FOR EACH ROW EXECUTE FUNCTION ledger_refuse_change();
CREATE TRIGGER ledger_no_truncate BEFORE TRUNCATE ON ledger
  FOR EACH STATEMENT EXECUTE FUNCTION ledger_refuse_change();
