import assert from 'node:assert/strict';
import { after, before } from 'node:test';
import type { FastifyInstance, InjectOptions, LightMyRequestResponse } from 'fastify';
import pg from 'pg';
import { pino } from 'pino';
import { createValidatorApp } from '../../src/api/validator.ts';
import { loadConfig } from '../../src/config.ts';
import { createDb, type Db } from '../../src/db/db.ts';
import { parseScenario, type Scenario } from '../../src/domain/scenario.ts';
import { createApiKey, revokeApiKey } from '../../src/governance/keys.ts';
import { createTestDatabase, type TestDatabase } from '../support/db.ts';
import { seedTestScenario, testScenario } from '../support/scenario.ts';
import { ADMIN_KEY } from '../support/validator.ts';

/**
 * What every fuzz file shares: the validator app on its own database (seeded with the test world
 * plus actors whose names are attack strings), a digest of every table a request could change,
 * the properties each reply must have, and a tally of replies per route and status.
 */

/** Strings that break naive SQL, HTML, shells, format functions, paths and parsers. */
export const INJECTIONS = [
  "Robert'); DROP TABLE ledger;--",
  "' OR '1'='1",
  '1; SELECT pg_sleep(10)--',
  '$$; TRUNCATE balances; $$',
  '\\x27 \\\\ \\',
  '<script>alert(1)</script>',
  '"><img src=x onerror=alert(1)>',
  '{{7*7}} ${7*7} #{7*7}',
  '$(rm -rf /) `reboot` ; ls | cat /etc/passwd && echo',
  '%s%s%s%n%x%d %p',
  '../../../../etc/passwd',
  '..\\..\\windows\\win.ini',
  '%2e%2e%2f%2e%2e%2fetc%2fpasswd',
  '__proto__',
  'constructor',
  'null',
  'undefined',
  'NaN',
  '😀 émoji ﷽ \u202eevil',
  'line\nbreak\r\ttab',
  '\u200b\ufeffzero-width',
  '@everyone @here <@&123>',
];

/** Actors seeded under attack-string names: valid data that must come back verbatim. */
export const INJECTED_ACTORS = INJECTIONS.filter((name) => name.length <= 200);

export const fuzzScenario: Scenario = (() => {
  const parsed = parseScenario({
    ...testScenario,
    name: 'fuzz',
    actors: [
      ...testScenario.actors,
      ...INJECTED_ACTORS.map((name) => ({ name, kind: 'agent', balances: { energy: 50, water: 50, credits: 100 } })),
    ],
  });
  if (!parsed.ok) throw new Error(parsed.message);
  return parsed.scenario;
})();

export interface FuzzTarget {
  t: TestDatabase;
  db: Db;
  /** A connection of its own for state digests (a prepared statement). */
  digestClient: pg.Client;
  app: FastifyInstance;
  keys: Record<'viewer' | 'operator' | 'admin' | 'revoked', string>;
  close(): Promise<void>;
}

export async function startFuzzTarget(): Promise<FuzzTarget> {
  const t = await createTestDatabase(4);
  await seedTestScenario(t.db, fuzzScenario);
  const keys = {
    viewer: (await createApiKey(t.db, 'fuzz-viewer', 'viewer')).key,
    operator: (await createApiKey(t.db, 'fuzz-operator', 'operator')).key,
    admin: (await createApiKey(t.db, 'fuzz-admin', 'admin')).key,
    revoked: (await createApiKey(t.db, 'fuzz-revoked', 'admin')).key,
  };
  await revokeApiKey(t.db, 'fuzz-revoked');
  // The admin rate limit (per client address) would turn most admin calls into 429s after the
  // first hundred; the fuzzers need every call to reach the route.
  const config = loadConfig({
    GRIDGOV_ADMIN_KEY: ADMIN_KEY,
    GRIDGOV_VALIDATOR_VERSION: 'fuzz',
    GRIDGOV_ADMIN_RATE_PER_MIN: '1000000',
    GRIDGOV_ADMIN_AUTH_FAILURES_PER_MIN: '1000000',
  });
  // Durability is not what the fuzzers test: commits skip the WAL flush wait to keep runs short.
  const url = new URL(t.url);
  url.searchParams.set('options', '-c synchronous_commit=off');
  const db = createDb(url.toString(), { max: 4 });
  const app = await createValidatorApp({ db, config, logger: pino({ level: 'silent' }) });
  await app.ready();
  const digestClient = new pg.Client({ connectionString: t.url });
  await digestClient.connect();
  return {
    t,
    db,
    digestClient,
    app,
    keys,
    async close() {
      await digestClient.end();
      await app.close();
      await db.close();
      await t.drop();
    },
  };
}

/** One value per table a request could change; equal digests mean nothing changed. */
export interface StateDigest {
  ledger: string;
  balances: string;
  rejections: string;
  outbox: string;
  control: string;
  audit: string;
  /** Admin calls without a valid key, counted per address and minute instead of audited one by one. */
  authFailures: string;
  keys: string;
  world: string;
  breakerOn: boolean;
}

/**
 * Append-only tables (ledger, rejections, outbox, audit) are summed up by count and newest id; the
 * tables a request could rewrite (balances, control, keys, the world's definition) by content.
 */
export async function stateDigest(db: Db | pg.Client): Promise<StateDigest> {
  const query = {
    // Prepared once per connection: thousands of digests a run, so planning it each time shows.
    name: 'fuzz-state-digest',
    text: `SELECT (SELECT count(*) || ':' || coalesce(max(id), 0) FROM ledger) AS ledger,
            (SELECT md5(coalesce(string_agg(actor_id || resource || amount || ':' || coalesce(last_ledger_id, 0), ',' ORDER BY actor_id, resource), '')) FROM balances) AS balances,
            (SELECT count(*) || ':' || coalesce(max(rejected_at)::text, '') FROM rejected_proposals) AS rejections,
            (SELECT count(*) || ':' || coalesce(max(id), 0) || ':' || coalesce(sum(attempts), 0) || ':' || count(*) FILTER (WHERE status = 'pending') FROM outbox) AS outbox,
            (SELECT breaker_on || ':' || coalesce(reason, '') || ':' || coalesce(changed_by, '') || ':' || changed_at FROM control) AS control,
            (SELECT count(*) || ':' || coalesce(max(id), 0) FROM admin_audit) AS audit,
            (SELECT coalesce(sum(failures), 0)::text FROM admin_auth_failures) AS "authFailures",
            (SELECT md5(coalesce(string_agg(name || role || coalesce(revoked_at::text, ''), ',' ORDER BY name), '')) FROM api_keys) AS keys,
            (SELECT (SELECT count(*) FROM actors) || ':' || (SELECT count(*) FROM resources) || ':' ||
                    (SELECT md5(coalesce(string_agg(coalesce(resource, '*') || coalesce(max_transfer::text, '') || coalesce(min_balance::text, ''), ',' ORDER BY resource), '')) FROM constraints) || ':' ||
                    (SELECT count(*) FROM scenarios) || ':' || (SELECT count(*) FROM runs) || ':' || (SELECT count(*) FROM epochs) || ':' || (SELECT count(*) FROM checkpoints)) AS world,
            (SELECT breaker_on FROM control) AS "breakerOn"`,
  };
  if (db instanceof pg.Client) return (await db.query<StateDigest>(query)).rows[0]!;
  return (await db.query<StateDigest>(query.text)).rows[0]!;
}

/** Parts of the state that differ, leaving out the ones the caller allows to change. */
export function changedParts(before: StateDigest, after: StateDigest, allowed: ReadonlyArray<keyof StateDigest> = []): string[] {
  return (Object.keys(before) as Array<keyof StateDigest>).filter(
    (key) => key !== 'breakerOn' && !allowed.includes(key) && before[key] !== after[key],
  );
}

export const ADMIN_ROUTES = new Set(['POST /admin/balance', 'POST /admin/reset-credit', 'POST /admin/circuit-breaker', 'GET /admin/audit']);

const DECIMAL = /^-?\d+(\.\d{1,6})?$/;
/** Subtrees that hold what a client sent (metadata, bodies kept for audit): their numbers are theirs. */
const CLIENT_DATA = new Set(['metadata', 'proposal', 'payload', 'request', 'plan', 'stats']);

/** Numbers the API prints must be exact decimals: no exponent, at most 6 decimal places. */
export function inexactNumbers(value: unknown, path = ''): string[] {
  if (typeof value === 'number') return DECIMAL.test(String(value)) ? [] : [`${path || 'body'} = ${String(value)}`];
  if (typeof value !== 'object' || value === null) return [];
  return Object.entries(value).flatMap(([key, child]) =>
    CLIENT_DATA.has(key) ? [] : inexactNumbers(child, path ? `${path}.${key}` : key),
  );
}

/** Replies per route and status, for the report a fuzz file prints. */
export class Tally {
  readonly counts = new Map<string, Map<number, number>>();
  total = 0;

  add(route: string, status: number): void {
    const byStatus = this.counts.get(route) ?? new Map<number, number>();
    byStatus.set(status, (byStatus.get(status) ?? 0) + 1);
    this.counts.set(route, byStatus);
    this.total++;
  }

  lines(): string[] {
    return [...this.counts]
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([route, byStatus]) => {
        const statuses = [...byStatus].sort(([a], [b]) => a - b).map(([status, count]) => `${status}×${count}`);
        return `${route}: ${statuses.join(' ')}`;
      });
  }
}

/** The path as the server sees it: dot segments resolved, as any HTTP client does. */
function serverPath(url: string): string {
  try {
    return new URL(`http://localhost${url}`).pathname;
  } catch {
    return url.split('?')[0]!;
  }
}

/** The route a URL names, for the tally: the path without its query, or "(unknown path)". */
export function routeOf(method: string, url: string, known: ReadonlySet<string>): string {
  const path = serverPath(url);
  // Fastify answers HEAD with the GET route.
  const probe = method === 'HEAD' ? 'GET' : method;
  if (known.has(`${probe} ${path}`)) return `${method} ${path}`;
  const template = PARAM_ROUTES.find(([route, pattern]) => route.startsWith(`${probe} `) && pattern.test(path));
  return template ? `${method} ${template[0].slice(probe.length + 1)}` : `${method} (unknown path)`;
}

/** Routes with path parameters, as templates and the paths they match. */
const PARAM_ROUTES: Array<[string, RegExp]> = [
  ['GET /runs/:run_id', /^\/runs\/[^/]+$/],
  ['GET /runs/:run_id/epochs/:epoch', /^\/runs\/[^/]+\/epochs\/[^/]+$/],
  ['POST /runs/:run_id/epochs/:epoch/settle', /^\/runs\/[^/]+\/epochs\/[^/]+\/settle$/],
  ['PUT /runs/:run_id/epochs/:epoch/plan', /^\/runs\/[^/]+\/epochs\/[^/]+\/plan$/],
  ['PUT /runs/:run_id/epochs/:epoch/stats', /^\/runs\/[^/]+\/epochs\/[^/]+\/stats$/],
];

export const KNOWN_ROUTES = new Set([
  'POST /execute',
  'POST /execute/batch',
  'GET /world-state',
  'GET /ledger',
  'GET /rejections',
  'GET /actors',
  'GET /resources',
  'GET /health',
  'GET /livez',
  'GET /metrics',
  'GET /openapi.json',
  'GET /docs',
  'GET /stats',
  'GET /events',
  'GET /epochs',
  'GET /runs',
  'POST /runs',
  ...ADMIN_ROUTES,
]);

export interface Judged {
  route: string;
  status: number;
  problems: string[];
}

/**
 * Sends one request and judges it against the fuzz properties:
 * - no 5xx, except 503 CIRCUIT_BREAKER_OPEN (and /health's 503) while the breaker is on;
 * - a 4xx changes nothing, except what the design records for it: a 422's rejection and outbox
 *   rows, a 409's audit row, the audit row of every admin call;
 * - every call to an admin route leaves exactly one audit row (DESIGN §8, invariant 6), or, without
 *   a valid key, one more in its address's count of failed authentications;
 * - a JSON reply holds only exact decimals;
 * - every error body has the one error shape.
 */
export type FuzzRequest = Omit<InjectOptions, 'method'> & { method: string; url: string };

export async function judge(
  target: FuzzTarget,
  request: FuzzRequest,
  before: StateDigest,
): Promise<Judged & { after: StateDigest; reply: LightMyRequestResponse }> {
  const reply = await target.app.inject(request as InjectOptions);
  const after = await stateDigest(target.digestClient);
  const route = routeOf(request.method, request.url, KNOWN_ROUTES);
  const status = reply.statusCode;
  const problems: string[] = [];
  let body: unknown;
  try {
    body = reply.body === '' ? undefined : JSON.parse(reply.body);
  } catch {
    body = undefined;
  }
  const code = (body as { error_code?: string } | undefined)?.error_code;
  if (status >= 500) {
    const breakerExpected = before.breakerOn && status === 503 && (code === 'CIRCUIT_BREAKER_OPEN' || route.endsWith(' /health'));
    if (!breakerExpected) problems.push(`answered ${status} ${code ?? reply.body.slice(0, 200)}`);
    // Halted means halted: nothing is recorded, not even a rejection.
    const changed = changedParts(before, after);
    if (breakerExpected && changed.length > 0) problems.push(`a ${status} changed ${changed.join(', ')}`);
  }
  const admin = ADMIN_ROUTES.has(route.replace(/^HEAD /, 'GET '));
  if (status >= 400 && status < 500) {
    // What a refusal may write, by design: a business rejection its rejection row and outbox rows,
    // an idempotency conflict and every admin call an audit row. Nothing else.
    // Any failed call under /admin/, an unknown path too, is audited (see auditFailedAdminCall).
    const allowed: Array<keyof StateDigest> = admin || serverPath(request.url).startsWith('/admin/') ? ['audit', 'authFailures'] : [];
    if (route === 'POST /execute' && status === 409) allowed.push('audit');
    // A business rejection: 422, or 403 FORBIDDEN_ACTOR (world's funds, another actor's funds).
    if (route === 'POST /execute' && (status === 422 || code === 'FORBIDDEN_ACTOR')) allowed.push('rejections', 'outbox');
    const changed = changedParts(before, after, allowed);
    if (changed.length > 0) problems.push(`a ${status} changed ${changed.join(', ')}`);
  }
  if (admin) {
    const [countBefore] = before.audit.split(':').map(Number);
    const [countAfter] = after.audit.split(':').map(Number);
    const counted = Number(after.authFailures) - Number(before.authFailures);
    if (countAfter! - countBefore! + counted !== 1)
      problems.push(`an admin call left ${countAfter! - countBefore!} audit rows and ${counted} counted failures`);
  }
  if (status < 300 && body !== undefined) problems.push(...inexactNumbers(body).map((n) => `inexact number ${n}`));
  // /health's 503 is its own documented body: each check's result.
  if (status >= 400 && request.method !== 'HEAD' && !route.endsWith(' /health')) {
    const shape = body as { status?: unknown; error_code?: unknown; message?: unknown } | undefined;
    if (
      (shape?.status !== 'error' && shape?.status !== 'rejected') ||
      typeof shape.error_code !== 'string' ||
      typeof shape.message !== 'string'
    ) {
      problems.push(`a ${status} without the error shape: ${reply.body.slice(0, 200)}`);
    }
  }
  return { route, status, problems, after, reply };
}

export interface FuzzSession {
  /** Set once the file's `before` ran. */
  target: FuzzTarget;
  /** The state after the last request judged. */
  state: StateDigest;
  tally: Tally;
  /** Sends one request, judges it against the state before it, tallies it, and fails the test on any problem. */
  send(method: string, url: string, payload?: string, headers?: Record<string, string | undefined>): Promise<void>;
}

/**
 * For a fuzz test file: the target started before its tests (then `prepare`, then the first state
 * digest) and closed after them, and the judging send every property runs through.
 */
export function useFuzzTarget(prepare?: (target: FuzzTarget) => Promise<void>): FuzzSession {
  const session = {
    tally: new Tally(),
    async send(method: string, url: string, payload?: string, headers: Record<string, string | undefined> = {}) {
      const clean = Object.fromEntries(Object.entries(headers).filter((e): e is [string, string] => e[1] !== undefined));
      const verdict = await judge(session.target, { method, url, payload, headers: clean }, session.state);
      session.state = verdict.after;
      session.tally.add(verdict.route, verdict.status);
      if (verdict.problems.length > 0) {
        assert.fail(
          `${method} ${url} ${JSON.stringify(clean)} ${String(payload).slice(0, 300)}\n→ ${verdict.status} ${verdict.reply.body.slice(0, 300)}\n${verdict.problems.join('\n')}`,
        );
      }
    },
  } as FuzzSession;
  before(async () => {
    session.target = await startFuzzTarget();
    await prepare?.(session.target);
    session.state = await stateDigest(session.target.digestClient);
  });
  after(() => session.target?.close());
  return session;
}
