import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { createTestDatabase, type TestDatabase } from '../support/db.ts';
import { seedTestScenario } from '../support/scenario.ts';
import { ADMIN_KEY, bearer, http, spawnValidator, type ValidatorProcess } from '../support/validator.ts';

const LIMIT = 20;
let t: TestDatabase;
const replicas: ValidatorProcess[] = [];
before(async () => {
  t = await createTestDatabase(4);
  await seedTestScenario(t.db);
  for (let i = 0; i < 2; i++) replicas.push(await spawnValidator(t.url, { GRIDGOV_ADMIN_AUTH_FAILURES_PER_MIN: String(LIMIT) }));
});
after(async () => {
  for (const r of replicas) r.child.kill('SIGTERM');
  await Promise.all(replicas.map((r) => r.exited));
  await t.drop();
});

const breaker = (url: string, key: string) => http(url, 'POST', '/admin/circuit-breaker', { enabled: false }, bearer(key));
const count = async (sql: string) => (await t.db.query<{ n: number }>(sql)).rows[0]!.n;

test(
  'a junk-key flood on two replicas is limited as one, audited as counts, and a real admin key keeps working',
  { timeout: 120_000 },
  async (ctx) => {
    const auditBefore = await count('SELECT count(*)::int AS n FROM admin_audit');
    const junk: Record<number, number>[] = replicas.map(() => ({}));
    const adminStatuses: number[] = [];
    const JUNK_PER_REPLICA = 150;
    await Promise.all([
      ...replicas.map(async (r, i) => {
        for (let n = 0; n < JUNK_PER_REPLICA; n += 10) {
          const replies = await Promise.all(Array.from({ length: 10 }, (_, k) => breaker(r.url, `ggk_junk_${i}_${n + k}_guess`)));
          for (const reply of replies) junk[i]![reply.status] = (junk[i]![reply.status] ?? 0) + 1;
        }
      }),
      (async () => {
        for (let n = 0; n < 20; n++) adminStatuses.push((await breaker(replicas[n % 2]!.url, ADMIN_KEY)).status);
      })(),
    ]);
    ctx.diagnostic(`junk answers per replica: ${JSON.stringify(junk)}; admin answers: ${JSON.stringify(adminStatuses)}`);

    assert.deepEqual(adminStatuses, Array(20).fill(200), 'the real admin key was never refused');
    const unauthorized = junk.reduce((sum, byStatus) => sum + (byStatus[401] ?? 0), 0);
    const limited = junk.reduce((sum, byStatus) => sum + (byStatus[429] ?? 0), 0);
    assert.equal(unauthorized + limited, 2 * JUNK_PER_REPLICA, 'every junk call was refused');
    // One limit for both replicas: at most LIMIT per address per minute (twice if a minute turned).
    assert.ok(unauthorized >= LIMIT && unauthorized <= 2 * LIMIT, `${unauthorized} junk calls got as far as 401`);
    for (const byStatus of junk) assert.ok((byStatus[429] ?? 0) > 0, 'each replica refuses past the shared limit');

    // The audit grew by the admin's own calls; the junk is counted per address and minute.
    assert.equal((await count('SELECT count(*)::int AS n FROM admin_audit')) - auditBefore, 20);
    assert.equal(await count('SELECT coalesce(sum(failures), 0)::int AS n FROM admin_auth_failures'), 2 * JUNK_PER_REPLICA);
    assert.ok((await count('SELECT count(*)::int AS n FROM admin_auth_failures')) <= 2);

    // Past the limit a guess is refused with 429 and Retry-After. If the minute turned since the
    // flood, the count starts again: a 429 still comes within LIMIT + 1 guesses.
    const guess = () =>
      fetch(`${replicas[0]!.url}/admin/circuit-breaker`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...bearer('ggk_one_more_guess') },
        body: '{"enabled":false}',
      });
    let limitedReply = await guess();
    for (let extra = 0; limitedReply.status === 401 && extra < LIMIT; extra++) {
      await limitedReply.body?.cancel();
      limitedReply = await guess();
    }
    assert.equal(limitedReply.status, 429);
    assert.ok(Number(limitedReply.headers.get('retry-after')) >= 1);
    await limitedReply.body?.cancel();

    const failures = await http(replicas[1]!.url, 'GET', '/admin/auth-failures', undefined, bearer(ADMIN_KEY));
    assert.equal(failures.status, 200);
    assert.equal(failures.body.failures[0].client_address, '127.0.0.1');
    assert.equal(failures.body.failures[0].last_action, 'admin.circuit_breaker');
  },
);
