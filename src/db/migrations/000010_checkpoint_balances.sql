-- A checkpoint keeps the whole replayed balance vector at its ledger id, so replay (rehydrate
-- --from-id, /world-state?at=, the drift verifier) can start there instead of at genesis.
-- balances_digest is the SHA-256 of these rows (see src/ledger/checkpoint.ts), supply the
-- circulating amount per resource (everything but world).
ALTER TABLE checkpoints
  ADD COLUMN entries   bigint NOT NULL DEFAULT 0,
  ADD COLUMN made_by   text NOT NULL DEFAULT 'manual' CHECK (made_by IN ('auto', 'manual', 'rehydrate')),
  ADD COLUMN last_executed_at timestamptz;

CREATE TABLE checkpoint_balances (
  ledger_id      bigint NOT NULL REFERENCES checkpoints (ledger_id) DEFERRABLE INITIALLY DEFERRED,
  actor_id       uuid NOT NULL REFERENCES actors (id),
  resource       text NOT NULL REFERENCES resources (name),
  amount         numeric(30, 6) NOT NULL,
  last_ledger_id bigint NOT NULL,
  PRIMARY KEY (ledger_id, actor_id, resource)
);
