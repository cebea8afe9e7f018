import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { blockHash, GENESIS_HASH, sealThrough } from '../../src/ledger/integrity/chain.ts';
import { recheckStep, verifyChain } from '../../src/ledger/integrity/chain-audit.ts';
import { verifyBlocks } from '../../src/ledger/integrity/chain-verify.ts';
import { settledHorizon } from '../../src/ledger/integrity/fence.ts';
import { createTestDatabase, type TestDatabase } from '../support/db.ts';
import { appendTrade, asSuperuserWithoutTriggers, openTransaction } from '../support/ledger.ts';
import { seedTestScenario } from '../support/scenario.ts';
import { runCli } from '../support/validator.ts';

const databases: TestDatabase[] = [];
after(() => Promise.all(databases.map((d) => d.drop())));

const seal = (t: TestDatabase, blockSize = 4) =>
  settledHorizon(t.db).then((through) => t.db.transaction((tx) => sealThrough(tx, through, { blockSize, maxRows: 100_000 })));

/** A seeded ledger with some trades, a gap left by an aborted writer, all sealed in blocks of 4. */
async function sealedLedger(): Promise<{ t: TestDatabase; gap: number }> {
  const t = await createTestDatabase(4);
  databases.push(t);
  await seedTestScenario(t.db);
  for (let i = 0; i < 6; i++) await appendTrade(t.db, 'alice', 'bob', 'energy', `${i + 1}.5`);
  const aborted = await openTransaction(t.url);
  const gap = (await appendTrade(aborted.db, 'carol', 'dave', 'water', 1)).id;
  await aborted.rollback();
  for (let i = 0; i < 6; i++) await appendTrade(t.db, 'carol', 'alice', 'credits', 3);
  await seal(t);
  return { t, gap };
}

let untouched: { t: TestDatabase; gap: number };
before(async () => {
  untouched = await sealedLedger();
});

test('sealing covers every settled id in contiguous blocks that chain from 32 zero bytes', async () => {
  const { t } = untouched;
  const { rows } = await t.db.query<{
    block_no: number;
    first_id: number;
    last_id: number;
    row_count: number;
    content_hash: Buffer;
    prev_hash: Buffer;
    hash: Buffer;
  }>('SELECT block_no, first_id, last_id, row_count, content_hash, prev_hash, hash FROM ledger_blocks ORDER BY block_no');
  const head = await t.db.query<{ id: number }>('SELECT max(id) AS id FROM ledger');
  assert.ok(rows.length >= 6);
  let prev: Buffer = GENESIS_HASH;
  let prevLast = 0;
  for (const b of rows) {
    assert.equal(b.first_id, prevLast + 1);
    assert.ok(b.row_count <= 4);
    assert.ok(b.prev_hash.equals(prev));
    assert.ok(blockHash(prev, b.first_id, b.last_id, b.row_count, b.content_hash).equals(b.hash));
    prev = b.hash;
    prevLast = b.last_id;
  }
  assert.equal(prevLast, head.rows[0]!.id);
  // Nothing new settled: sealing again adds nothing. New entries go into new blocks.
  assert.equal((await seal(t))!.blocks, 0);
  await appendTrade(t.db, 'bob', 'alice', 'energy', 1);
  assert.equal((await seal(t))!.rows, 1);
  await assert.rejects(t.db.query('UPDATE ledger_blocks SET row_count = 1'), /append-only/);
});

test('gridgov verify passes on an untouched ledger and names a modified, a deleted and an inserted row', async () => {
  const modified = await sealedLedger();
  const deleted = await sealedLedger();
  const inserted = await sealedLedger();
  const pick = async (t: TestDatabase) =>
    (await t.db.query<{ id: number }>("SELECT id FROM ledger WHERE kind = 'trade' ORDER BY id LIMIT 1 OFFSET 3")).rows[0]!.id;
  const modifiedId = await pick(modified.t);
  const deletedId = await pick(deleted.t);
  await asSuperuserWithoutTriggers(modified.t.db, 'UPDATE ledger SET amount = amount + 100 WHERE id = $1', [modifiedId]);
  await asSuperuserWithoutTriggers(deleted.t.db, 'DELETE FROM ledger WHERE id = $1', [deletedId]);
  // Into the id an aborted writer left unused, inside a sealed block.
  await asSuperuserWithoutTriggers(
    inserted.t.db,
    `INSERT INTO ledger (id, proposal_id, leg, kind, actor_from, actor_to, resource, amount, validator_version, executed_at)
     OVERRIDING SYSTEM VALUE
     SELECT $1::bigint, gen_random_uuid(), 0, 'trade', actor_from, actor_to, resource, 40, validator_version, executed_at FROM ledger WHERE id = $1::bigint - 1`,
    [inserted.gap],
  );

  const [clean, mod, del, ins] = await Promise.all(
    [untouched.t, modified.t, deleted.t, inserted.t].map((t) => runCli(['verify', '--no-seal'], t.url)),
  );
  assert.equal(clean!.code, 0, clean!.stdout + clean!.stderr);
  assert.match(clean!.stdout, /the chain is intact/);
  assert.match(clean!.stdout, /chain head [0-9a-f]{64}/);
  assert.equal(mod!.code, 1, mod!.stdout + mod!.stderr);
  assert.match(mod!.stdout, new RegExp(`BROKEN at block \\d+: ledger row ${modifiedId} in block \\d+ was modified`));
  assert.equal(del!.code, 1);
  assert.match(del!.stdout, new RegExp(`ledger row ${deletedId} was sealed in block \\d+ and is gone`));
  assert.equal(ins!.code, 1);
  assert.match(ins!.stdout, new RegExp(`ledger row ${inserted.gap} is inside block \\d+`));

  // The finding is kept for /health until a check of that block passes again.
  const { rows } = await modified.t.db.query<{ broken: { kind: string; ledger_id: number } }>('SELECT broken FROM chain_state');
  assert.deepEqual([rows[0]!.broken.kind, rows[0]!.broken.ledger_id], ['modified', modifiedId]);
  await asSuperuserWithoutTriggers(modified.t.db, 'UPDATE ledger SET amount = amount - 100 WHERE id = $1', [modifiedId]);
  assert.equal((await verifyChain(modified.t.db)).ok, true);
  assert.equal((await modified.t.db.query('SELECT 1 FROM chain_state WHERE broken IS NULL')).rowCount, 1);
});

test('a rewritten block, a removed block and a row below the first block break the chain too', async () => {
  const { t } = await sealedLedger();
  const check = () => verifyBlocks(t.db, 1, 1_000);
  await asSuperuserWithoutTriggers(t.db, 'UPDATE ledger_blocks SET last_id = last_id WHERE block_no = 2'); // no-op rewrite: still intact
  assert.equal((await check()).break, undefined);
  await asSuperuserWithoutTriggers(t.db, "UPDATE ledger_blocks SET content_hash = sha256('x') WHERE block_no = 2");
  assert.equal((await check()).break?.kind, 'block');
  const other = await sealedLedger();
  await asSuperuserWithoutTriggers(other.t.db, 'DELETE FROM ledger_blocks WHERE block_no = 3');
  assert.deepEqual(
    [(await verifyBlocks(other.t.db, 1, 1_000)).break?.kind, (await verifyBlocks(other.t.db, 1, 1_000)).break?.block_no],
    ['link', 3],
  );
  const third = await sealedLedger();
  await asSuperuserWithoutTriggers(
    third.t.db,
    `INSERT INTO ledger (id, proposal_id, leg, kind, actor_from, actor_to, resource, amount, validator_version)
     OVERRIDING SYSTEM VALUE SELECT 0, gen_random_uuid(), 0, 'trade', actor_from, actor_to, resource, 1, 'x' FROM ledger WHERE id = 1`,
  );
  assert.deepEqual((await verifyChain(third.t.db)).break?.ledger_id, 0);
});

test('the rolling re-verification walks the whole chain in slices and finds a later rewrite', async () => {
  const { t } = await sealedLedger();
  const blocks = (await t.db.query<{ n: number }>('SELECT count(*) AS n FROM ledger_blocks')).rows[0]!.n;
  let steps = 0;
  do {
    const check = await t.db.transaction((tx) => recheckStep(tx, 4));
    assert.equal(check?.break, undefined);
    steps++;
  } while ((await t.db.query('SELECT 1 FROM chain_state WHERE last_pass_at IS NOT NULL')).rowCount === 0);
  assert.equal(steps, blocks, 'one block of 4 rows per step, each block once');
  const last = (await t.db.query<{ id: number }>('SELECT max(id) AS id FROM ledger')).rows[0]!.id;
  await asSuperuserWithoutTriggers(t.db, 'UPDATE ledger SET metadata = \'{"note": "rewritten"}\' WHERE id = $1', [last]);
  let found;
  for (let i = 0; i <= blocks && !found; i++) found = (await t.db.transaction((tx) => recheckStep(tx, 4)))?.break;
  assert.deepEqual([found?.kind, found?.ledger_id], ['modified', last]);
});
