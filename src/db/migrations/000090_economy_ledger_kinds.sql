-- The economy settles more than production and consumption: a commons regrows and is extracted
-- from, credits drain through upkeep and tax, and a failed actor's holdings go to world and from
-- world to its heir. Each of these is a system entry with world on one side.
ALTER TABLE ledger DROP CONSTRAINT ledger_kind_check;
ALTER TABLE ledger ADD CONSTRAINT ledger_kind_check CHECK (kind IN (
  'trade', 'genesis', 'production', 'consumption', 'adjustment',
  'regrowth', 'extraction', 'upkeep', 'tax', 'failure', 'inheritance'
)) NOT VALID;
ALTER TABLE ledger VALIDATE CONSTRAINT ledger_kind_check;
