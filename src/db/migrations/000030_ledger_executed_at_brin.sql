-- The dashboard's rates count the ledger entries of the last minutes. executed_at grows with id,
-- so a BRIN index finds the recent pages for a few kilobytes of index and almost no insert cost
-- (new pages stay unsummarised, and so are always read, until autovacuum summarises them).
CREATE INDEX ledger_executed_at_brin ON ledger USING brin (executed_at) WITH (autosummarize = on);
