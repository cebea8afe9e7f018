-- 000030 once added a BRIN index on ledger.executed_at; it was removed from the migrations when
-- the B-tree on (executed_at, id) took its place. Databases that applied it still carry the
-- index: dropping it makes them the same as databases that never had it.
DROP INDEX IF EXISTS ledger_executed_at_brin;
