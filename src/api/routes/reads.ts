import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { listLedger, listRejections, listResources } from '../../ledger/reads/reads.ts';
import { LedgerKind } from '../../ledger/writing/append.ts';
import { getWorldState } from '../../ledger/reads/world-state.ts';
import type { AppDeps } from '../deps.ts';
import { ApiError } from '../errors.ts';
import type { RouteSchema } from '../openapi.ts';
import { ledgerIdParam, limitParam, parseQuery, uuidParam } from '../query.ts';

const ledgerQuery = z.strictObject({
  cursor: ledgerIdParam.optional().describe('next_cursor of the previous page'),
  limit: limitParam,
  actor: z.string().min(1).max(200).optional().describe('Actor id or name'),
  resource: z.string().min(1).max(64).optional().describe('Resource name'),
  proposal_id: uuidParam.optional(),
  kind: z.enum(Object.values(LedgerKind) as [LedgerKind, ...LedgerKind[]]).optional(),
});

const rejectionsQuery = z.strictObject({
  cursor: z.string().max(200).optional().describe('next_cursor of the previous page'),
  limit: limitParam,
  error_code: z.string().max(64).optional().describe('Only rejections with this code'),
  proposal_id: uuidParam.optional(),
});

/** A timestamptz as Postgres prints it (what next_cursor carries), with a real date and time. */
const PG_TIMESTAMP = /^(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2})(\.\d{1,6})?[+-]\d{2}(:\d{2}){0,2}$/;

function isPgTimestamp(text: string): boolean {
  const fields = PG_TIMESTAMP.exec(text)?.slice(1, 7).map(Number);
  if (!fields) return false;
  // Date.parse lets "2026-02-31" or "1" through, which Postgres refuses: check each field.
  const [year, month, day, hour, minute, second] = fields as [number, number, number, number, number, number];
  const date = new Date(Date.UTC(year, month - 1, day));
  return year >= 1000 && date.getUTCMonth() === month - 1 && date.getUTCDate() === day && hour < 24 && minute < 60 && second < 60;
}

function decodeCursor(cursor: string | undefined): { at: string; id: string } | undefined {
  if (cursor === undefined) return undefined;
  try {
    const value = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as { at?: unknown; id?: unknown };
    if (typeof value.at === 'string' && typeof value.id === 'string' && isPgTimestamp(value.at) && uuidParam.safeParse(value.id).success) {
      return { at: value.at, id: value.id };
    }
  } catch {
    // fall through to the error below
  }
  throw new ApiError('BAD_REQUEST', 'cursor: not a cursor returned by this API', { field: 'cursor' });
}

/** `at` is a ledger id, or an ISO 8601 date-time with a zone (Z or an offset). */
const TIMESTAMP = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}:?\d{2})$/;
const atParam = z.union(
  [
    ledgerIdParam,
    z
      .string()
      .regex(TIMESTAMP)
      .refine((s) => !Number.isNaN(Date.parse(s)))
      .transform((s) => ({ time: s })),
  ],
  { error: 'must be a ledger id or an ISO 8601 timestamp with a zone, such as 2025-02-28T12:00:00Z' },
);
const worldStateQuery = z.strictObject({
  at: atParam
    .optional()
    .describe(
      'A ledger id, or an ISO 8601 timestamp with a zone: the state as of that entry (or of the newest one executed by then), replayed from the nearest checkpoint; the reply then has as_of',
    ),
});

const badQuery = 'BAD_REQUEST, naming the parameter';
const read = (summary: string, querystring?: z.ZodObject): RouteSchema => ({
  summary,
  auth: 'optional',
  querystring,
  responses: { 200: 'OK', 400: badQuery, 401: 'No valid key while GRIDGOV_READ_AUTH is required' },
});
const worldStateRoute = read('The WorldState snapshot', worldStateQuery);
const ledgerRoute = read('Ledger entries, newest first, cursor-paginated', ledgerQuery);
const rejectionsRoute = read('Rejected proposals, newest first, with delivery status', rejectionsQuery);

export function registerReadRoutes(app: FastifyInstance, deps: AppDeps): void {
  app.get('/world-state', { config: { openapi: worldStateRoute } }, async (request) => {
    const { at: point } = parseQuery(worldStateQuery, request.query);
    const at = typeof point === 'number' ? point : undefined;
    return getWorldState(deps.readDb, { at, atTime: typeof point === 'object' ? point.time : undefined });
  });

  app.get('/ledger', { config: { openapi: ledgerRoute } }, async (request) => {
    const q = parseQuery(ledgerQuery, request.query);
    let actorId: string | undefined;
    if (q.actor !== undefined) {
      const actor = (await deps.actors.resolve([q.actor])).get(q.actor);
      if (!actor) return { entries: [], next_cursor: null };
      actorId = actor.id;
    }
    return listLedger(deps.readDb, {
      before: q.cursor,
      limit: q.limit,
      actorId,
      resource: q.resource,
      proposalId: q.proposal_id,
      kind: q.kind,
    });
  });

  app.get('/rejections', { config: { openapi: rejectionsRoute } }, async (request) => {
    const q = parseQuery(rejectionsQuery, request.query);
    return listRejections(deps.readDb, { cursor: decodeCursor(q.cursor), limit: q.limit, code: q.error_code, proposalId: q.proposal_id });
  });

  app.get('/actors', { config: { openapi: read('Actors and their balances') } }, async () => {
    const state = await getWorldState(deps.readDb);
    return { actors: state.actors, ledger_head: state.ledger_head };
  });

  app.get('/resources', { config: { openapi: read('Resources, units and effective limits') } }, async () => ({
    resources: await listResources(deps.readDb),
  }));
}
