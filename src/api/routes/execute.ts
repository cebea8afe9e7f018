import type { FastifyInstance, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { parseProposal, proposalSchema } from '../../domain/proposal.ts';
import { hasRole, presentedKey, type Caller } from '../../governance/auth.ts';
import type { ExecuteItem, ExecuteOutcome } from '../../ledger/writing/execute.ts';
import type { AppDeps } from '../deps.ts';
import { identify } from '../identify.ts';
import { ApiError, httpStatus } from '../errors.ts';
import type { RouteSchema } from '../openapi.ts';

export const MAX_BATCH = 500;

/** The reply for one outcome: its HTTP status and body. */
export function outcomeReply(outcome: ExecuteOutcome): { status: number; body: Record<string, unknown> } {
  switch (outcome.status) {
    case 'applied':
      return { status: 200, body: { ...outcome } };
    case 'rejected':
      return { status: httpStatus[outcome.error_code], body: { ...outcome } };
    case 'conflict':
      return {
        status: httpStatus.IDEMPOTENCY_CONFLICT,
        body: { status: 'error', error_code: 'IDEMPOTENCY_CONFLICT', proposal_id: outcome.proposal_id, message: outcome.message },
      };
  }
}

/** Roles that may propose when execute auth is required; an agent key only for its own actor. */
const PROPOSERS = ['system', 'operator', 'agent'] as const;

/**
 * Who asks: the key as presented (the database proves its role again and decides what it may
 * move) and a name for the audit. With execute auth required, a proposing key is needed.
 */
async function proposer(request: FastifyRequest, deps: AppDeps): Promise<ExecuteItem['caller']> {
  const caller: Caller | undefined = await identify(request, deps.authenticate);
  if (deps.access?.execute === 'required') {
    if (!caller) throw new ApiError('UNAUTHORIZED', 'an API key is required to propose: Authorization: Bearer <key>');
    if (!PROPOSERS.some((role) => hasRole(caller, role)))
      throw new ApiError('FORBIDDEN', 'proposing needs an agent, system or operator key');
  }
  return { key: caller ? (presentedKey(request.headers.authorization) ?? null) : null, name: caller?.name ?? 'anonymous' };
}

function item(body: unknown, caller: ExecuteItem['caller'], field = ''): ExecuteItem | ApiError {
  const parsed = parseProposal(body);
  if (!parsed.ok) return new ApiError('MALFORMED_PROPOSAL', `${field}${parsed.message}`, { field: `${field}${parsed.field}` });
  return { proposal: parsed.proposal, raw: body, caller };
}

function logRejections(request: FastifyRequest, outcomes: ExecuteOutcome[]): void {
  for (const o of outcomes) {
    if (o.status === 'rejected' && !o.replayed)
      request.log.debug({ proposal_id: o.proposal_id, error_code: o.error_code, reason: o.message }, 'proposal rejected');
  }
}

const applied = z.object({
  status: z.literal('applied'),
  proposal_id: z.string(),
  replayed: z.boolean(),
  ledger_ids: z.array(z.int()),
  executed_at: z.iso.datetime({ offset: true }),
});
const rejected = z.object({ status: z.literal('rejected'), error_code: z.string(), message: z.string(), replayed: z.boolean() });

const executeRoute: RouteSchema = {
  summary: 'Validate and apply a proposal atomically; idempotent on proposal_id',
  auth: 'optional',
  body: proposalSchema,
  responses: {
    200: { description: 'Applied (or replayed: true for a retry)', schema: applied },
    400: 'MALFORMED_PROPOSAL, naming the field',
    401: 'The key is not valid, or none was given while GRIDGOV_EXECUTE_AUTH is required',
    403: {
      description:
        "FORBIDDEN_ACTOR: a recorded rejection (world's funds without system, an agent key debiting another actor, several debtors with an agent key); FORBIDDEN: a viewer key",
      schema: z.object({
        status: z.enum(['rejected', 'error']),
        error_code: z.enum(['FORBIDDEN_ACTOR', 'FORBIDDEN']),
        message: z.string(),
      }),
    },
    409: 'IDEMPOTENCY_CONFLICT',
    422: { description: 'Business rejection, recorded once', schema: rejected },
    503: 'CIRCUIT_BREAKER_OPEN (nothing recorded) or DATABASE_UNAVAILABLE (nothing recorded, unless the connection broke during the commit): retry with the same proposal_id',
  },
};

const batchRoute: RouteSchema = {
  summary: 'Up to 500 proposals in one transaction, in order, one outcome each (with http_status)',
  auth: 'optional',
  // The envelope is checked by the handler, each item by parseProposal: the item schema is the one above.
  body: z.strictObject({ proposals: z.array(proposalSchema).min(1).max(MAX_BATCH) }),
  responses: {
    200: '{results: [...]} in request order, each with its http_status',
    400: 'MALFORMED_PROPOSAL: the body is not {proposals: [...]}',
    503: 'CIRCUIT_BREAKER_OPEN, DATABASE_UNAVAILABLE or COMMIT_FAILED: nothing recorded (for DATABASE_UNAVAILABLE, unless the connection broke during the commit); retry with the same proposal_ids',
  },
};

export function registerExecuteRoutes(app: FastifyInstance, deps: AppDeps): void {
  app.post('/execute', { config: { openapi: executeRoute } }, async (request, reply) => {
    const caller = await proposer(request, deps);
    const next = item(request.body, caller);
    if (next instanceof ApiError) throw next;
    const outcome = await deps.committer.execute(next);
    logRejections(request, [outcome]);
    const { status, body } = outcomeReply(outcome);
    return reply.status(status).send(body);
  });

  /**
   * Up to MAX_BATCH proposals decided in one transaction (shared with concurrent calls by the
   * group committer), in order, each with its own outcome and its HTTP status as `http_status`;
   * a malformed item fails alone.
   */
  app.post('/execute/batch', { bodyLimit: 4 * 1024 * 1024, config: { openapi: batchRoute } }, async (request) => {
    const caller = await proposer(request, deps);
    const body = request.body as { proposals?: unknown } | null;
    const keys = body && typeof body === 'object' && !Array.isArray(body) ? Object.keys(body) : [];
    if (!body || !Array.isArray(body.proposals) || keys.some((k) => k !== 'proposals')) {
      throw new ApiError('MALFORMED_PROPOSAL', 'body must be {"proposals": [ ... ]}', {
        field: keys.find((k) => k !== 'proposals') ?? 'proposals',
      });
    }
    if (body.proposals.length === 0 || body.proposals.length > MAX_BATCH) {
      throw new ApiError('MALFORMED_PROPOSAL', `proposals must hold 1 to ${MAX_BATCH} items`, { field: 'proposals' });
    }
    const items = body.proposals.map((p, i) => item(p, caller, `proposals.${i}.`));
    const valid = items.filter((i): i is ExecuteItem => !(i instanceof ApiError));
    const outcomes = await deps.committer.executeMany(valid);
    logRejections(request, outcomes);
    let next = 0;
    return {
      results: items.map((i) => {
        if (i instanceof ApiError) return { ...i.toBody(), http_status: i.statusCode };
        const { status, body: result } = outcomeReply(outcomes[next++]!);
        return { ...result, http_status: status };
      }),
    };
  });
}
