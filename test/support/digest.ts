export { ledgerDigest } from '../../src/ledger/integrity/digest.ts';
