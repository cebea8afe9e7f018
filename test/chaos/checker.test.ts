import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, test } from 'node:test';
import { linearIssueIdFor } from '../../src/notify/linear.ts';
import { createTestDatabase, type TestDatabase } from '../support/db.ts';
import { seedTestScenario } from '../support/scenario.ts';
import { http, startValidator, type TestValidator } from '../support/validator.ts';
import { checkRun, type TicketView } from './checker.ts';
import type { Reply, SendRecord } from './clients.ts';
import { checkSnapshot, genesisSupply } from './reader.ts';
import { chaosScenario, makeWorkload, type Send } from './workload.ts';

// A checker that cannot fail proves nothing: each test plants one kind of violation.

let t: TestDatabase;
let v: TestValidator;
let records: SendRecord[];
const noTickets = (): TicketView => ({ issues: new Map(), creates: new Map() });

before(async () => {
  t = await createTestDatabase(4);
  await seedTestScenario(t.db, chaosScenario);
  v = await startValidator(t.db);
  records = [];
  for (const send of makeWorkload(300, 42)) {
    const reply = await http(v.url, 'POST', '/execute', send.body);
    const decisive: Reply = { status: reply.status, replica: 0, at: Date.now() };
    if (reply.status === 200) Object.assign(decisive, { ledgerIds: reply.body.ledger_ids, replayed: reply.body.replayed });
    if (reply.status === 422) Object.assign(decisive, { errorCode: reply.body.error_code, replayed: reply.body.replayed });
    records.push({ send, replies: [decisive], decisive });
  }
});
after(async () => {
  await v.close();
  await t.drop();
});

const find = (status: number, kind = 'fresh') => records.find((r) => r.decisive?.status === status && r.send.kind === kind)!;
const rules = async (planted: SendRecord[], tickets = noTickets(), drained = false) =>
  (await checkRun(t.db, planted, tickets, { drained })).violations.map((v) => v.split(':')[0]);

test('a faithful history passes, and every reply kind is in it', async () => {
  const verdict = await checkRun(t.db, records, noTickets(), { drained: false });
  assert.deepEqual(verdict.violations, []);
  for (const status of [200, 409, 422]) assert.ok(find(status, status === 409 ? 'reuse' : 'fresh'), `no ${status} in the sample`);
  assert.ok(verdict.stats.applied > 100 && verdict.stats.rejected > 5);
});

test('an acknowledged apply under other ledger ids, or missing from the ledger, is caught', async () => {
  const applied = find(200);
  const wrongIds = { ...applied, decisive: { ...applied.decisive!, ledgerIds: applied.decisive!.ledgerIds!.map((id) => id + 1) } };
  assert.ok((await rules([...records.filter((r) => r !== applied), wrongIds])).includes('acknowledged applied'));
  const send: Send = { ...applied.send, id: randomUUID() };
  const ghost: SendRecord = { send, replies: [], decisive: { status: 200, replica: 0, at: 0, ledgerIds: [1], replayed: false } };
  assert.ok((await rules([...records, ghost])).includes('acknowledged applied'));
});

test('one id answered 200 and 422, or with two ledger id sets, is two outcomes', async () => {
  const applied = find(200);
  const contradiction: SendRecord = {
    send: applied.send,
    replies: [],
    decisive: { status: 422, replica: 1, at: 0, errorCode: 'INSUFFICIENT_BALANCE', replayed: true },
  };
  const found = await rules([...records, contradiction]);
  assert.ok(found.includes('two outcomes') && found.includes('rejected'), found.join());
  const other: SendRecord = { send: applied.send, replies: [], decisive: { ...applied.decisive!, ledgerIds: [999_999] } };
  assert.ok((await rules([...records, other])).includes('two outcomes'));
});

test('a rejection answered with another code than recorded is caught', async () => {
  const refused = find(422);
  const relabelled = {
    ...refused,
    decisive: { ...refused.decisive!, errorCode: refused.decisive!.errorCode === 'SAME_ACTOR' ? 'INVALID_ACTOR' : 'SAME_ACTOR' },
  };
  assert.ok((await rules([...records.filter((r) => r.send.id !== refused.send.id), relabelled])).includes('rejected'));
});

test('a 409 for the payload that was actually recorded is caught', async () => {
  const applied = find(200);
  const wrongConflict: SendRecord = { send: applied.send, replies: [], decisive: { status: 409, replica: 0, at: 0 } };
  assert.ok((await rules([...records, wrongConflict])).includes('conflict'));
});

test('a decision for an id no client sent is a phantom', async () => {
  const applied = find(200);
  assert.ok((await rules(records.filter((r) => r.send.id !== applied.send.id))).includes('phantom'));
});

test('two Linear issues, or two creations, for one rejection are caught; so is a missing one after the drain', async () => {
  const refused = find(422);
  const issueId = linearIssueIdFor(refused.send.id);
  const title = `[X] Rejected proposal ${refused.send.id}`;
  const doubled: TicketView = {
    issues: new Map([
      [issueId, { id: issueId, title }],
      [randomUUID(), { id: 'other', title }],
    ]),
    creates: new Map([[issueId, 2]]),
  };
  const found = await rules(records, doubled);
  assert.equal(found.filter((rule) => rule === 'tickets').length, 2, found.join());
  assert.ok((await rules(records, noTickets(), true)).includes('tickets'));
});

test('balances changed behind the ledger fail the invariants', async () => {
  await t.db.query(
    "UPDATE balances SET amount = amount + 1 WHERE resource = 'water' AND actor_id = (SELECT id FROM actors WHERE name = 'acct-00')",
  );
  try {
    assert.ok((await rules(records)).includes('invariant'));
  } finally {
    await t.db.query(
      "UPDATE balances SET amount = amount - 1 WHERE resource = 'water' AND actor_id = (SELECT id FROM actors WHERE name = 'acct-00')",
    );
  }
});

test('a bank read that made or lost money, or shows a negative balance, is caught', async () => {
  const expected = genesisSupply(chaosScenario);
  const state = (await http(v.url, 'GET', '/world-state')).body;
  assert.deepEqual(checkSnapshot(state, expected), []);
  state.actors[0].balances.energy += 0.000001;
  assert.match(checkSnapshot(state, expected).join(), /balances of energy add up to/);
  state.actors[0].balances.energy = -1;
  state.supply.water = 1;
  const problems = checkSnapshot(state, expected).join();
  assert.match(problems, /holds -1 energy/);
  assert.match(problems, /supply of water is 1/);
});
