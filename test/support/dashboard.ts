import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { pino } from 'pino';
import { loadConfig } from '../../src/config.ts';
import { createDashboardApp } from '../../src/dashboard/server.ts';
import { createApiKey } from '../../src/governance/keys.ts';
import { dispatcherFromConfig } from '../../src/notify/index.ts';
import { browserAvailability, launchBrowser, type TestBrowser } from './browser.ts';
import { createTestDatabase, type TestDatabase } from './db.ts';
import { startFakeLinear, type FakeLinear } from './fake-linear.ts';
import { seedTestScenario } from './scenario.ts';
import { http, startValidator, type TestValidator } from './validator.ts';

export interface TestDashboard {
  url: string;
  app: FastifyInstance;
  close(): Promise<void>;
}

/** The dashboard server on a loopback port, reading from `validatorUrl`. */
export async function startDashboard(validatorUrl: string): Promise<TestDashboard> {
  const app = await createDashboardApp({ validatorUrl, logger: pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' }) });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return { url: `http://127.0.0.1:${port}`, app, close: () => app.close() };
}

export interface DashboardWorld {
  t: TestDatabase;
  v: TestValidator;
  d: TestDashboard;
  browser: TestBrowser;
  viewerKey: string;
  /** A swap negotiated over three rounds, with reasoning and a transcript. */
  negotiated: string;
  /** A proposal rejected with CONSTRAINT_VIOLATION, its Linear issue delivered (GOV-1). */
  rejected: string;
  close(): Promise<void>;
}

/**
 * For a browser test file: `skip` (why, when Chromium is missing, else false) and the dashboard
 * world, started before the file's tests (then handed to `ready`) and closed after them.
 */
export function useDashboardWorld(ready: (world: DashboardWorld) => void): { skip: string | false; world: DashboardWorld } {
  const chromium = browserAvailability();
  const session = { skip: 'reason' in chromium ? chromium.reason : (false as const), world: undefined as unknown as DashboardWorld };
  before(async () => {
    if (session.skip) return;
    session.world = await startDashboardWorld(chromium.path!);
    ready(session.world);
  });
  after(() => session.world?.close());
  return session;
}

/**
 * The test world seeded, a validator whose rejections go to a fake Linear, the dashboard in front
 * of it, a browser; and some history: a negotiated swap, a transfer (carol gives dave 25
 * credits), and a rejection whose ticket the dispatcher has delivered.
 */
export async function startDashboardWorld(chromiumPath: string): Promise<DashboardWorld> {
  const t = await createTestDatabase();
  await seedTestScenario(t.db);
  const linear: FakeLinear = await startFakeLinear();
  const env = { LINEAR_API_KEY: linear.apiKey, LINEAR_TEAM_ID: 'team-1', LINEAR_API_URL: linear.url };
  const v = await startValidator(t.db, env);
  const d = await startDashboard(v.url);
  const viewerKey = (await createApiKey(t.db, 'dash-viewer', 'viewer')).key;

  const negotiated = randomUUID();
  const swap = await http(v.url, 'POST', '/execute', {
    proposal_id: negotiated,
    legs: [
      { actor_from: 'alice', actor_to: 'bob', resource: 'energy', amount: 12 },
      { actor_from: 'bob', actor_to: 'alice', resource: 'water', amount: 8 },
    ],
    metadata: {
      reasoning: 'alice is short of water and holds spare energy',
      transcript: [
        {
          round: 0,
          by: 'alice',
          type: 'offer',
          give: { resource: 'energy', amount: 10 },
          get: { resource: 'water', amount: 8 },
          reasoning: 'energy for water',
        },
        {
          round: 1,
          by: 'bob',
          type: 'counter',
          give: { resource: 'water', amount: 8 },
          get: { resource: 'energy', amount: 12 },
          reasoning: 'water is dear this epoch',
        },
        { round: 2, by: 'alice', type: 'accept', reasoning: 'fair enough' },
      ],
      strategy: 'heuristic',
    },
  });
  assert.equal(swap.status, 200);
  await http(v.url, 'POST', '/execute', {
    proposal_id: randomUUID(),
    actor_from: 'carol',
    actor_to: 'dave',
    resource: 'credits',
    amount: 25,
  });
  const rejected = randomUUID();
  const refused = await http(v.url, 'POST', '/execute', {
    proposal_id: rejected,
    actor_from: 'dave',
    actor_to: 'alice',
    resource: 'energy',
    amount: 15,
  });
  assert.equal(refused.status, 422);
  const dispatcher = dispatcherFromConfig(t.db, loadConfig({ ...env, GRIDGOV_OUTBOX_TIMEOUT_MS: '2000' }), pino({ level: 'silent' }));
  while ((await dispatcher.runOnce()) > 0);

  const browser = await launchBrowser(chromiumPath);
  return {
    t,
    v,
    d,
    browser,
    viewerKey,
    negotiated,
    rejected,
    async close() {
      await browser.close();
      await d.close();
      await v.close();
      await linear.close();
      await t.drop();
    },
  };
}
