import assert from 'node:assert/strict';
import { test } from 'node:test';

// Plain browser JavaScript, imported as it is served; only the pure summary is used here.
const modulePath = '../../src/dashboard/public/js/pages/admin.js';
const { summarise } = (await import(modulePath)) as { summarise(payload: unknown): string };

test('the audit names the actor by name whether the change came from the dashboard (an id) or the CLI (a name)', () => {
  const result = { actor_id: '2f1c0e64-0000-5000-8000-000000000001', actor: 'hospital', resource: 'credits' };
  const fromDashboard = { request: { actor_id: result.actor_id, resource: 'credits', amount: '500' }, result };
  const fromCli = { request: { actor_id: 'hospital', resource: 'credits', amount: '500' }, result };
  assert.equal(summarise(fromDashboard), 'actor: hospital, resource: credits, amount: 500');
  assert.equal(summarise(fromCli), summarise(fromDashboard));
  assert.equal(summarise({ request: { enabled: true, reason: 'storm' } }), 'enabled: true, reason: storm');
  assert.equal(summarise({ request: { actor_id: 'ghost' } }), 'actor_id: ghost', 'a refused call has no result: as sent');
  assert.equal(summarise(null), '');
});
