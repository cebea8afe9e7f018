import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { parseScenario } from '../../domain/scenario.ts';
import { EVENTS_CHANNEL } from '../../ledger/reads/activity.ts';
import { endRun, getRun, latestRunId, listRuns, registerRun, RunEnd, RunError } from '../../runs/registry.ts';
import { settleEpoch } from '../../runs/settlement.ts';
import { storePlan, storeStats } from '../../runs/epochs.ts';
import { getEpoch, getRunSummary, listEpochs } from '../../runs/reads.ts';
import { ScenarioError } from '../../ledger/writing/seed.ts';
import { fromDatabaseRefusal, presentedKey } from '../../governance/auth.ts';
import type { AppDeps } from '../deps.ts';
import { identify, requireRole } from '../identify.ts';
import { ApiError } from '../errors.ts';
import { limitParam, parseBody, parseQuery, uuidParam } from '../query.ts';

/**
 * Simulation runs, for the runner (system role for every write) and for dashboards: register or
 * resume a run, settle an epoch's production and consumption, record its plan and its stats.
 */

const PLAN_BODY_LIMIT = 8 * 1024 * 1024;
const epochParams = z.strictObject({ run_id: uuidParam, epoch: z.coerce.number().int().min(1).max(1_000_000_000) });
const runParams = z.strictObject({ run_id: uuidParam });
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

async function mapped<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (error instanceof RunError) throw new ApiError(error.reason, error.message, error.details);
    if (error instanceof ScenarioError) throw new ApiError('BAD_REQUEST', error.message, { field: 'scenario' });
    throw fromDatabaseRefusal(error);
  }
}

export function registerRunRoutes(app: FastifyInstance, deps: AppDeps): void {
  const system = async (request: Parameters<typeof identify>[0]) => {
    const caller = await identify(request, deps.authenticate);
    requireRole(caller, 'system');
    return caller!;
  };

  app.post('/runs', async (request, reply) => {
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

  app.post('/runs/:run_id/end', async (request) => {
    await system(request);
    const { run_id } = parseQuery(runParams, request.params);
    const { status } = parseBody(endBody, request.body);
    return mapped(() => endRun(deps.db, run_id, status));
  });

  app.get('/runs', async (request) => {
    const { limit } = parseQuery(z.strictObject({ limit: limitParam }), request.query);
    return { runs: await listRuns(deps.db, limit) };
  });

  app.get('/runs/:run_id', async (request) => {
    const { run_id } = parseQuery(runParams, request.params);
    const run = await getRun(deps.db, run_id);
    if (!run) throw new ApiError('NOT_FOUND', `no run ${run_id}`);
    return run;
  });

  app.get('/runs/:run_id/summary', async (request) => {
    const { run_id } = parseQuery(runParams, request.params);
    const summary = await getRunSummary(deps.db, run_id);
    if (!summary) throw new ApiError('NOT_FOUND', `no run ${run_id}`);
    return summary;
  });

  app.post('/runs/:run_id/epochs/:epoch/settle', async (request) => {
    await system(request);
    const { run_id, epoch } = parseQuery(epochParams, request.params);
    return mapped(() => settleEpoch(deps.db, run_id, epoch, deps.validatorVersion, presentedKey(request.headers.authorization)));
  });

  app.get('/runs/:run_id/epochs/:epoch', async (request) => {
    const { run_id, epoch } = parseQuery(epochParams, request.params);
    const row = await getEpoch(deps.db, run_id, epoch);
    if (!row) throw new ApiError('NOT_FOUND', `run ${run_id} has no epoch ${epoch}`);
    return row;
  });

  app.put('/runs/:run_id/epochs/:epoch/plan', { bodyLimit: PLAN_BODY_LIMIT }, async (request) => {
    await system(request);
    const { run_id, epoch } = parseQuery(epochParams, request.params);
    const { plan } = parseBody(planBody, request.body);
    return mapped(() => storePlan(deps.db, run_id, epoch, plan, deps.validatorVersion, presentedKey(request.headers.authorization)));
  });

  app.put('/runs/:run_id/epochs/:epoch/stats', async (request) => {
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

  app.get('/epochs', async (request) => {
    const q = parseQuery(
      z.strictObject({
        run_id: uuidParam.optional(),
        from: z.coerce.number().int().min(0).default(0),
        limit: z.coerce.number().int().min(1).max(1000).default(100),
      }),
      request.query,
    );
    const runId = q.run_id ?? (await latestRunId(deps.db));
    if (!runId) return { run: null, epochs: [], next_from: null };
    const run = await getRun(deps.db, runId);
    if (!run) throw new ApiError('NOT_FOUND', `no run ${runId}`);
    return { run, ...(await listEpochs(deps.db, { runId, from: q.from, limit: q.limit })) };
  });
}

const p = (name: string, description: string, schema: unknown = { type: 'string' }, where = 'query') => ({
  name,
  in: where,
  required: where === 'path',
  description,
  schema,
});
const ok = (description: string) => ({ 200: { description } });
const runPath = p('run_id', 'Run id', { type: 'string', format: 'uuid' }, 'path');
const epochPath = p('epoch', 'Epoch number (from 1)', { type: 'integer' }, 'path');

/** The OpenAPI description of these routes, merged into /openapi.json. */
export const runPaths = {
  '/runs': {
    post: {
      summary: 'Register or resume a run (system role): seeds the scenario; the id derives from scenario, seed and strategy unless given',
      security: [{ bearer: [] }],
      responses: {
        200: { description: 'Existing run' },
        201: { description: 'Created' },
        409: { description: 'RUN_CONFLICT; SCENARIO_MISMATCH when the world was seeded from another scenario and `merge` is not true' },
      },
    },
    get: { summary: 'Runs, newest first', parameters: [p('limit', '1-500', { type: 'integer' })], responses: ok('OK') },
  },
  '/runs/{run_id}': { get: { summary: 'A run and its last epoch', parameters: [runPath], responses: ok('OK') } },
  '/runs/{run_id}/summary': {
    get: {
      summary:
        'The figures of a whole run: survival rate and time, efficiency, equality, over-usage, the commons, payoffs, rounds to deal, rejections by code, tokens and cost',
      parameters: [runPath],
      responses: ok('OK'),
    },
  },
  '/runs/{run_id}/end': {
    post: {
      summary: 'Mark a run ended (system role): body {status: finished | stopped | failed}; registering it again resumes it',
      security: [{ bearer: [] }],
      parameters: [runPath],
      responses: ok('The run, with its status and ended_at'),
    },
  },
  '/runs/{run_id}/epochs/{epoch}/settle': {
    post: {
      summary: "Settle the epoch's production and consumption (system role); exactly once, replays answer from the record",
      security: [{ bearer: [] }],
      parameters: [runPath, epochPath],
      responses: {
        ...ok('Settled (replayed: true when it already was)'),
        409: { description: 'EPOCH_OUT_OF_ORDER' },
        503: { description: 'CIRCUIT_BREAKER_OPEN' },
      },
    },
  },
  '/runs/{run_id}/epochs/{epoch}': {
    get: { summary: 'One epoch with its settlement, plan and stats', parameters: [runPath, epochPath], responses: ok('OK') },
  },
  '/runs/{run_id}/epochs/{epoch}/plan': {
    put: {
      summary: "Record the epoch's plan (system role); the first plan wins and is returned to every later call",
      security: [{ bearer: [] }],
      parameters: [runPath, epochPath],
      responses: ok('The stored plan'),
    },
  },
  '/runs/{run_id}/epochs/{epoch}/stats': {
    put: {
      summary: "Record the epoch's stats and mark it finished (system role)",
      security: [{ bearer: [] }],
      parameters: [runPath, epochPath],
      responses: ok('OK'),
    },
  },
  '/epochs': {
    get: {
      summary: 'Per-epoch stats of a run (the latest when none is named), in epoch order',
      parameters: [
        p('run_id', 'Run id'),
        p('from', 'First epoch', { type: 'integer' }),
        p('limit', '1-1000, default 100', { type: 'integer' }),
      ],
      responses: ok('OK'),
    },
  },
};
