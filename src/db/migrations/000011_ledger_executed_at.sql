-- /world-state?at=<timestamp> resolves a time to the newest entry executed at or before it.
CREATE INDEX ledger_executed_at ON ledger (executed_at, id);
