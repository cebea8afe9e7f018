import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { fromDatabaseRefusal } from '../../domain/errors.ts';
import { parseScenario } from '../../domain/scenario.ts';
import { EVENTS_CHANNEL } from '../../ledger/reads/activity.ts';
import { endRun, getRun, latestRunId, listRuns, registerRun, RunEnd } from '../../runs/registry.ts';
import { settleEpoch } from '../../runs/settlement.ts';
import { storePlan, storeStats } from '../../runs/epochs.ts';
import { getEpoch, getRunSummary, listEpochs } from '../../runs/reads.ts';
import { presentedKey } from '../../governance/auth.ts';
import type { AppDeps } from '../deps.ts';
import { identify, requireRole } from '../identify.ts';
import { ApiError } from '../errors.ts';
import type { RouteSchema } from '../openapi.ts';
import { limitParam, parseBody, parseQuery, uuidParam } from '../query.ts';

/**
 * Simulation runs, for the runner (system role for every write) and for dashboards: register or
 * resume a run, settle an epoch's production and consumption, record its plan and its stats.
 */

const PLAN_BODY_LIMIT = 8 * 1024 * 1024;
const runId = uuidParam.describe('Run id');
const epochParams = z.strictObject({
  run_id: runId,
  epoch: z.coerce.number().int().min(1).max(1_000_000_000).describe('Epoch number (from 1)'),
});
const runParams = z.strictObject({ run_id: runId });
const registerBody = z.strictObject({
  scenario: z.record(z.string(), z.unknown()),
  seed: z.union([z.string().max(200), z.number().int()]).optional(),
  strategy: z
    .string()
    .regex(/^[a-z0-9][a-z0-9:+,._-]{0,63}$/, 'must be a short lowercase name')
    .default('heuristic'),
  run_id: uuidParam.optional(),
  /** Seed this scenario into a world seeded from another one, on purpose. */
  merge: z.boolean().optional(),
});
const endBody = z.strictObject({ status: z.enum([RunEnd.finished, RunEnd.stopped, RunEnd.failed]) });
const planBody = z.strictObject({ plan: z.record(z.string(), z.unknown()) });
const statsBody = z.strictObject({ stats: z.record(z.string(), z.unknown()) });
const runsQuery = z.strictObject({ limit: limitParam });
const epochsQuery = z.strictObject({
  run_id: runId.optional().describe('Run id; the latest run when none is named'),
  from: z.coerce.number().int().min(0).default(0).describe('First epoch'),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
});

const systemRefusals = {
  400: 'BAD_REQUEST, naming the field',
  401: 'UNAUTHORIZED: no valid key',
  403: 'FORBIDDEN: the system role is needed',
};
const notFound = { 404: 'NOT_FOUND: no such run or epoch' };
const routes = {
  register: {
    summary: 'Register or resume a run (system role): seeds the scenario; the id derives from scenario, seed and strategy unless given',
    auth: 'required',
    body: registerBody,
    responses: {
      200: 'Existing run',
      201: 'Created',
      ...systemRefusals,
      409: 'RUN_CONFLICT; SCENARIO_MISMATCH when the world was seeded from another scenario and `merge` is not true',
    },
  },
  end: {
    summary: 'Mark a run ended (system role); registering it again resumes it',
    auth: 'required',
    params: runParams,
    body: endBody,
    responses: { 200: 'The run, with its status and ended_at', ...systemRefusals, ...notFound },
  },
  list: { summary: 'Runs, newest first', querystring: runsQuery, responses: { 200: 'OK', 400: 'BAD_REQUEST, naming the parameter' } },
  get: { summary: 'A run and its last epoch', params: runParams, responses: { 200: 'OK', ...notFound } },
  summary: {
    summary:
      'The figures of a whole run: the commons by GovSim (survival time and rate, gains, efficiency, equality, over-usage), actor survival, need met, payoffs, rounds to deal, rejections by code, tokens and cost (docs/economy.md)',
    params: runParams,
    responses: { 200: 'OK', ...notFound },
  },
  settle: {
    summary: "Settle the epoch's production and consumption (system role); exactly once, replays answer from the record",
    auth: 'required',
    params: epochParams,
    responses: {
      200: 'Settled (replayed: true when it already was)',
      ...systemRefusals,
      409: 'EPOCH_OUT_OF_ORDER',
      503: 'CIRCUIT_BREAKER_OPEN',
    },
  },
  epoch: { summary: 'One epoch with its settlement, plan and stats', params: epochParams, responses: { 200: 'OK', ...notFound } },
  plan: {
    summary: "Record the epoch's plan (system role); the first plan wins and is returned to every later call",
    auth: 'required',
    params: epochParams,
    body: planBody,
    responses: { 200: 'The stored plan', ...systemRefusals, 409: 'EPOCH_OUT_OF_ORDER' },
  },
  stats: {
    summary: "Record the epoch's stats and mark it finished (system role)",
    auth: 'required',
    params: epochParams,
    body: statsBody,
    responses: { 200: 'OK', ...systemRefusals, 409: 'EPOCH_OUT_OF_ORDER' },
  },
  epochs: {
    summary: 'Per-epoch stats of a run (the latest when none is named), in epoch order',
    querystring: epochsQuery,
    responses: { 200: 'OK', 400: 'BAD_REQUEST, naming the parameter', ...notFound },
  },
} satisfies Record<string, RouteSchema>;

async function mapped<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    throw fromDatabaseRefusal(error) ?? error;
  }
}

export function registerRunRoutes(app: FastifyInstance, deps: AppDeps): void {
  const system = async (request: Parameters<typeof identify>[0]) => {
    const caller = await identify(request, deps.authenticate);
    requireRole(caller, 'system');
    return caller!;
  };

  app.post('/runs', { config: { openapi: routes.register } }, async (request, reply) => {
    const caller = await system(request);
    const body = parseBody(registerBody, request.body);
    const parsed = parseScenario(body.scenario);
    if (!parsed.ok) throw new ApiError('BAD_REQUEST', `scenario: ${parsed.message}`, { field: 'scenario' });
    const seed = String(body.seed ?? parsed.scenario.seed ?? 0);
    const result = await mapped(() =>
      registerRun(deps.db, {
        runId: body.run_id,
        scenario: parsed.scenario,
        seed,
        strategy: body.strategy,
        caller: caller.name,
        key: presentedKey(request.headers.authorization),
        validatorVersion: deps.validatorVersion,
        merge: body.merge,
      }),
    );
    return reply.status(result.created ? 201 : 200).send({ ...result.run, created: result.created });
  });

  app.post('/runs/:run_id/end', { config: { openapi: routes.end } }, async (request) => {
    await system(request);
    const { run_id } = parseQuery(runParams, request.params);
    const { status } = parseBody(endBody, request.body);
    return mapped(() => endRun(deps.db, run_id, status));
  });

  app.get('/runs', { config: { openapi: routes.list } }, async (request) => {
    const { limit } = parseQuery(runsQuery, request.query);
    return { runs: await listRuns(deps.db, limit) };
  });

  app.get('/runs/:run_id', { config: { openapi: routes.get } }, async (request) => {
    const { run_id } = parseQuery(runParams, request.params);
    const run = await getRun(deps.db, run_id);
    if (!run) throw new ApiError('NOT_FOUND', `no run ${run_id}`);
    return run;
  });

  app.get('/runs/:run_id/summary', { config: { openapi: routes.summary } }, async (request) => {
    const { run_id } = parseQuery(runParams, request.params);
    const summary = await getRunSummary(deps.db, run_id);
    if (!summary) throw new ApiError('NOT_FOUND', `no run ${run_id}`);
    return summary;
  });

  app.post('/runs/:run_id/epochs/:epoch/settle', { config: { openapi: routes.settle } }, async (request) => {
    await system(request);
    const { run_id, epoch } = parseQuery(epochParams, request.params);
    return mapped(() => settleEpoch(deps.db, run_id, epoch, deps.validatorVersion, presentedKey(request.headers.authorization)));
  });

  app.get('/runs/:run_id/epochs/:epoch', { config: { openapi: routes.epoch } }, async (request) => {
    const { run_id, epoch } = parseQuery(epochParams, request.params);
    const row = await getEpoch(deps.db, run_id, epoch);
    if (!row) throw new ApiError('NOT_FOUND', `run ${run_id} has no epoch ${epoch}`);
    return row;
  });

  app.put('/runs/:run_id/epochs/:epoch/plan', { bodyLimit: PLAN_BODY_LIMIT, config: { openapi: routes.plan } }, async (request) => {
    await system(request);
    const { run_id, epoch } = parseQuery(epochParams, request.params);
    const { plan } = parseBody(planBody, request.body);
    return mapped(() => storePlan(deps.db, run_id, epoch, plan, deps.validatorVersion, presentedKey(request.headers.authorization)));
  });

  app.put('/runs/:run_id/epochs/:epoch/stats', { config: { openapi: routes.stats } }, async (request) => {
    await system(request);
    const { run_id, epoch } = parseQuery(epochParams, request.params);
    const { stats } = parseBody(statsBody, request.body);
    const stored = await mapped(() => storeStats(deps.db, run_id, epoch, stats));
    // Dashboards redraw their epoch charts on this; sent after the commit, outside it.
    await deps.db
      .query('SELECT pg_notify($1, $2)', [EVENTS_CHANNEL, JSON.stringify({ type: 'epoch', run_id, epoch })])
      .catch(() => undefined);
    return stored;
  });

  app.get('/epochs', { config: { openapi: routes.epochs } }, async (request) => {
    const q = parseQuery(epochsQuery, request.query);
    const runId = q.run_id ?? (await latestRunId(deps.db));
    if (!runId) return { run: null, epochs: [], next_from: null };
    const run = await getRun(deps.db, runId);
    if (!run) throw new ApiError('NOT_FOUND', `no run ${runId}`);
    return { run, ...(await listEpochs(deps.db, { runId, from: q.from, limit: q.limit })) };
  });
}
