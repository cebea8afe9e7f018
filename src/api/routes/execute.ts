import type { FastifyInstance, FastifyRequest } from 'fastify';
import { CodedError } from '../../domain/errors.ts';
import { parseProposal } from '../../domain/proposal.ts';
import { isDatabaseUnavailable } from '../../db/db.ts';
import { hasRole, presentedKey, type Caller, type Role } from '../../governance/auth.ts';
import { CircuitBreakerOpenError, type ExecuteItem, type ExecuteOutcome } from '../../ledger/execute.ts';
import { commitFailed } from '../../ledger/group-commit.ts';
import { identify, type AppDeps } from '../app.ts';
import { ApiError, httpStatus } from '../errors.ts';

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

/** Who is proposing: the caller, its key, and whether it must prove who it is. */
interface Proposer {
  caller: Caller | undefined;
  key: string | undefined;
  required: boolean;
}

function item(body: unknown, proposer: Proposer, field = ''): ExecuteItem | ApiError {
  const parsed = parseProposal(body);
  if (!parsed.ok) return new ApiError('MALFORMED_PROPOSAL', `${field}${parsed.message}`, { field: `${field}${parsed.field}` });
  const { caller } = proposer;
  return {
    proposal: parsed.proposal,
    raw: body,
    system: hasRole(caller, 'system'),
    caller: caller?.name ?? 'anonymous',
    agentActor: caller?.actorId,
    // When keys are required, a swap debiting several actors is the runner's or an operator's.
    manyDebtors: !proposer.required || hasRole(caller, 'system') || hasRole(caller, 'operator'),
    identity: caller ? { roles: caller.roles, actorId: caller.actorId, key: proposer.key } : undefined,
  };
}

/** The caller of /execute; with execute auth required, a key that may propose is needed. */
async function proposer(request: FastifyRequest, deps: AppDeps): Promise<Proposer> {
  const caller = await identify(request, deps.authenticate);
  const required = deps.access?.execute === 'required';
  if (required) {
    if (!caller) throw new ApiError('UNAUTHORIZED', 'an API key is required to propose: Authorization: Bearer <key>');
    if (!['system', 'operator', 'agent'].some((role) => hasRole(caller, role as Role))) {
      throw new ApiError('FORBIDDEN', 'proposing needs an agent, system or operator key');
    }
  }
  return { caller, key: presentedKey(request.headers.authorization), required };
}

function asApiError(error: unknown): ApiError {
  if (error instanceof CircuitBreakerOpenError) return new ApiError('CIRCUIT_BREAKER_OPEN', error.message, { reason: error.reason });
  if (error instanceof CodedError) return new ApiError(error.code, error.message, error.details);
  if (isDatabaseUnavailable(error)) return new ApiError('DATABASE_UNAVAILABLE');
  const failed = commitFailed(error);
  return new ApiError(failed.code, failed.message);
}

function logRejections(request: FastifyRequest, outcomes: ExecuteOutcome[]): void {
  for (const o of outcomes) {
    if (o.status === 'rejected' && !o.replayed) request.log.info({ proposal_id: o.proposal_id, error_code: o.error_code, reason: o.message }, 'proposal rejected');
  }
}

export function registerExecuteRoutes(app: FastifyInstance, deps: AppDeps): void {
  app.post('/execute', async (request, reply) => {
    const next = item(request.body, await proposer(request, deps));
    if (next instanceof ApiError) throw next;
    let outcome: ExecuteOutcome;
    try {
      outcome = await deps.committer.execute(next);
    } catch (error) {
      throw asApiError(error);
    }
    logRejections(request, [outcome]);
    const { status, body } = outcomeReply(outcome);
    return reply.status(status).send(body);
  });

  /**
   * Up to MAX_BATCH proposals decided in one transaction (shared with concurrent calls by the
   * group committer), in order, each with its own outcome and its HTTP status as `http_status`;
   * a malformed item fails alone.
   */
  app.post('/execute/batch', { bodyLimit: 4 * 1024 * 1024 }, async (request) => {
    const who = await proposer(request, deps);
    const body = request.body as { proposals?: unknown } | null;
    const keys = body && typeof body === 'object' && !Array.isArray(body) ? Object.keys(body) : [];
    if (!body || !Array.isArray(body.proposals) || keys.some((k) => k !== 'proposals')) {
      throw new ApiError('MALFORMED_PROPOSAL', 'body must be {"proposals": [ ... ]}', { field: keys.find((k) => k !== 'proposals') ?? 'proposals' });
    }
    if (body.proposals.length === 0 || body.proposals.length > MAX_BATCH) {
      throw new ApiError('MALFORMED_PROPOSAL', `proposals must hold 1 to ${MAX_BATCH} items`, { field: 'proposals' });
    }
    const items = body.proposals.map((p, i) => item(p, who, `proposals.${i}.`));
    const valid = items.filter((i): i is ExecuteItem => !(i instanceof ApiError));
    let outcomes: ExecuteOutcome[] = [];
    try {
      outcomes = await deps.committer.executeMany(valid);
    } catch (error) {
      throw asApiError(error);
    }
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
