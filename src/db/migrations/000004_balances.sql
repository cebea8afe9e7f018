-- A cache of the ledger: one row per (actor, resource), created with the actor so that every
-- trade can lock the rows it touches. Only world may go negative.
CREATE TABLE balances (
  actor_id       uuid NOT NULL REFERENCES actors (id),
  resource       text NOT NULL REFERENCES resources (name),
  amount         numeric(30, 6) NOT NULL DEFAULT 0,
  is_world       boolean NOT NULL DEFAULT false,
  last_ledger_id bigint,
  PRIMARY KEY (actor_id, resource),
  CONSTRAINT balances_non_negative CHECK (is_world OR amount >= 0)
);
