import type { FastifyInstance } from 'fastify';
import { parseProposal } from '../../domain/proposal.ts';
import { hasRole } from '../../governance/auth.ts';
import { CircuitBreakerOpenError, type ExecuteOutcome } from '../../ledger/execute.ts';
import { identify, type AppDeps } from '../app.ts';
import { ApiError, httpStatus } from '../errors.ts';

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

export function registerExecuteRoutes(app: FastifyInstance, deps: AppDeps): void {
  app.post('/execute', async (request, reply) => {
    const caller = await identify(request, deps.authenticate);
    const parsed = parseProposal(request.body);
    if (!parsed.ok) throw new ApiError('MALFORMED_PROPOSAL', parsed.message, { field: parsed.field });
    try {
      const outcome = await deps.executor.execute({
        proposal: parsed.proposal,
        raw: request.body,
        system: hasRole(caller, 'system'),
        caller: caller?.name ?? 'anonymous',
      });
      if (outcome.status === 'rejected' && !outcome.replayed) {
        request.log.info({ proposal_id: outcome.proposal_id, error_code: outcome.error_code, reason: outcome.message }, 'proposal rejected');
      }
      const { status, body } = outcomeReply(outcome);
      return reply.status(status).send(body);
    } catch (error) {
      if (error instanceof CircuitBreakerOpenError) {
        throw new ApiError('CIRCUIT_BREAKER_OPEN', error.message, { reason: error.reason });
      }
      throw error;
    }
  });
}
