import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { readScenarioFile } from '../../src/ledger/writing/seed.ts';
import { createTestDatabase, type TestDatabase } from '../support/db.ts';
import { ledgerDigest } from '../support/digest.ts';
import { invariantViolations } from '../support/invariants.ts';
import { startFaultProxy, type FaultProxy } from '../support/proxy.ts';
import { simulate } from '../support/simulation.ts';
import { ADMIN_KEY, BIN, startValidator, type TestValidator } from '../support/validator.ts';
import { waitForValue } from '../support/wait.ts';

const SCENARIO = fileURLToPath(new URL('../../scenarios/demo.json', import.meta.url));
const EPOCHS = 8;

let t: TestDatabase;
let v: TestValidator;
let proxy: FaultProxy;
before(async () => {
  t = await createTestDatabase();
  v = await startValidator(t.db);
  proxy = await startFaultProxy(v.url);
  // Slow trades down so that a kill lands between two proposals of one epoch.
  proxy.setRule((method, path) => (method === 'POST' && path === '/execute' ? { delayMs: 15 } : undefined));
});
after(async () => {
  await proxy.close();
  await v.close();
  await t.drop();
});

function runner(): { exited: Promise<number | null>; kill: () => void; output: () => string } {
  const child = spawn(
    process.execPath,
    [BIN, 'runner', '--validator', proxy.url, '--scenario', SCENARIO, '--epochs', String(EPOCHS), '--batch-size', '1'],
    {
      env: { ...process.env, GRIDGOV_ADMIN_KEY: ADMIN_KEY, LOG_LEVEL: 'warn' },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let output = '';
  child.stdout.on('data', (c: Buffer) => (output += c.toString()));
  child.stderr.on('data', (c: Buffer) => (output += c.toString()));
  return {
    exited: new Promise((resolve) => child.on('exit', (code) => resolve(code))),
    kill: () => child.kill('SIGKILL'),
    output: () => output,
  };
}

/** An epoch whose plan is stored, some of whose trades are in the ledger and not yet all. */
async function midEpoch(): Promise<number | undefined> {
  const { rows } = await t.db.query<{ epoch: number; planned: number; sent: number }>(
    `SELECT e.epoch, jsonb_array_length(e.plan->'slots') AS planned,
            (SELECT count(DISTINCT l.proposal_id)::int FROM ledger l WHERE l.kind = 'trade' AND l.metadata->>'run_id' = e.run_id::text AND (l.metadata->>'epoch')::int = e.epoch)
          + (SELECT count(*)::int FROM rejected_proposals r WHERE r.proposal_json->'metadata'->>'run_id' = e.run_id::text AND (r.proposal_json->'metadata'->>'epoch')::int = e.epoch) AS sent
       FROM epochs e WHERE e.plan IS NOT NULL AND e.finished_at IS NULL AND e.epoch >= 3`,
  );
  const row = rows[0];
  return row && row.sent >= 2 ? row.epoch : undefined;
}

test('a runner killed with SIGKILL mid-epoch and restarted repeats nothing and ends where an uninterrupted run ends', async () => {
  const first = runner();
  const killedAt = await waitForValue(midEpoch, 'the runner caught mid-epoch', { pollMs: 5 }).catch((error: unknown) => {
    throw new Error(`${String(error)}:\n${first.output()}`);
  });
  first.kill();
  await first.exited;
  const before = await t.db.query<{ n: number }>("SELECT count(*)::int AS n FROM ledger WHERE kind = 'trade'");

  const second = runner();
  assert.equal(await second.exited, 0, second.output());
  assert.match(second.output(), new RegExp(`epoch ${EPOCHS}/${EPOCHS}`));
  assert.ok(!new RegExp(`epoch ${killedAt - 1}/`).test(second.output()), 'the restart resumed at the interrupted epoch');
  const after = await t.db.query<{ n: number }>("SELECT count(*)::int AS n FROM ledger WHERE kind = 'trade'");
  assert.ok(after.rows[0]!.n > before.rows[0]!.n);

  assert.deepEqual(await invariantViolations(t.db), []);
  // No slot applied twice, and none both applied and rejected.
  const twice = await t.db.query(
    `SELECT metadata->>'agent', metadata->>'epoch', metadata->>'slot' FROM ledger WHERE kind = 'trade' AND leg = 0
      GROUP BY 1, 2, 3 HAVING count(*) > 1`,
  );
  assert.equal(twice.rowCount, 0);
  const resent = proxy.seen.filter((s) => s.path === '/execute').map((s) => JSON.parse(s.body).proposal_id as string);
  assert.ok(resent.length > new Set(resent).size, 'the restart sent the interrupted epoch again, under the same ids');

  // Row for row what a runner that was never interrupted writes.
  const reference = await createTestDatabase();
  const rv = await startValidator(reference.db);
  try {
    await simulate(rv.url, await readScenarioFile(SCENARIO), { epochs: EPOCHS });
    // Ids included: the restart drew no ledger id it did not use.
    assert.deepEqual(await ledgerDigest(reference.db), await ledgerDigest(t.db));
  } finally {
    await rv.close();
    await reference.drop();
  }
});
