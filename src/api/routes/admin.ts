import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { CodedError } from '../../domain/errors.ts';
import { auditDenied, auditRead, listAudit } from '../../governance/audit.ts';
import { listAuthFailures, recordAuthFailure } from '../../governance/auth-failures.ts';
import { hasRole, presentedKey, type Caller, type Role } from '../../governance/auth.ts';
import type { Admin } from '../../governance/admin.ts';
import type { AppDeps } from '../deps.ts';
import { ApiError } from '../errors.ts';
import type { RouteSchema } from '../openapi.ts';
import { createRateLimiter } from '../rate-limit.ts';
import { ledgerIdParam, limitParam, parseBody, parseQuery } from '../query.ts';
import { expecting } from '../../domain/issues.ts';

declare module 'fastify' {
  interface FastifyRequest {
    audited: boolean;
  }
}

const actorId = z.string(expecting('an actor id or name')).min(1).max(200).describe('Actor id or name');
const balanceBody = z.strictObject({
  actor_id: actorId,
  resource: z.string(expecting('a resource name')).min(1).max(64),
  amount: z
    .union([z.number(), z.string().max(64)], expecting('a number (or decimal string) of at least 0 with at most 6 decimal places'))
    .describe('An exact decimal with at most 6 places'),
});
const resetBody = z.strictObject({ actor_id: actorId });
const breakerBody = z.strictObject({ enabled: z.boolean(), reason: z.string().max(500).optional() });
const auditQuery = z.strictObject({
  cursor: ledgerIdParam.optional().describe('next_cursor of the previous page'),
  limit: limitParam,
  action: z.string().max(64).optional().describe('e.g. admin.balance'),
  admin_user: z.string().max(64).optional().describe('A key name'),
});
const authFailuresQuery = z.strictObject({ limit: limitParam });

const refusals = {
  400: 'BAD_REQUEST, naming the field',
  401: 'UNAUTHORIZED: no valid key (counted per client address)',
  403: 'FORBIDDEN: role too weak (audited)',
  429: 'RATE_LIMITED, with Retry-After',
};
const adminWrite = (summary: string, body: z.ZodType): RouteSchema => ({
  summary,
  auth: 'required',
  body,
  responses: { 200: 'Applied; audited in the same transaction', ...refusals, 404: 'NOT_FOUND: no such actor or resource' },
});
const adminRead = (summary: string, querystring: z.ZodObject): RouteSchema => ({
  summary,
  auth: 'required',
  querystring,
  responses: { 200: 'OK', ...refusals },
});

/** Who to name in the audit: the key's name, never the key itself. */
async function auditName(deps: AppDeps, request: FastifyRequest): Promise<{ name: string; caller?: Caller; denial?: ApiError }> {
  const auth = await deps.authenticate(request.headers.authorization);
  if (auth.kind === 'caller') return { name: auth.caller.name, caller: auth.caller };
  if (auth.kind === 'invalid') return { name: '(invalid key)', denial: new ApiError('UNAUTHORIZED', auth.reason) };
  return { name: 'anonymous', denial: new ApiError('UNAUTHORIZED', 'an API key is required: Authorization: Bearer <key>') };
}

/**
 * Audits a failed admin call that never reached its handler (a body that is not JSON, too large,
 * of the wrong type): every admin call, denied or failed, leaves an audit row, or, without a
 * valid key, a count in its address's row of the minute.
 */
export async function auditFailedAdminCall(deps: AppDeps, request: FastifyRequest, code: string): Promise<void> {
  if (request.audited || !request.url.startsWith('/admin/')) return;
  request.audited = true;
  const { denial } = await auditName(deps, request);
  const action = `admin.${request.url.slice(7).split('?')[0]}`.replace(/[^a-z0-9_.-]/g, '_').slice(0, 64);
  if (denial) await recordAuthFailure(deps.db, { address: request.ip, action, outcome: denial.code });
  else await auditDenied(deps.db, { key: presentedKey(request.headers.authorization), action, payload: {}, outcome: code });
}

export function registerAdminRoutes(app: FastifyInstance, deps: AppDeps & { admin: Admin }): void {
  app.decorateRequest('audited', false);
  // Calls with a valid key are limited per key, so no one else's junk can use up an operator's share.
  const limit = createRateLimiter({ perMinute: deps.adminRatePerMinute ?? 120 });
  const failuresPerMinute = deps.adminAuthFailuresPerMinute ?? 30;

  const rateLimited = (reply: FastifyReply, seconds: number, what: string) => {
    void reply.header('retry-after', String(seconds));
    return new ApiError('RATE_LIMITED', `too many ${what}; retry in ${seconds} s`, { retry_after: seconds });
  };

  /**
   * Failed authentication is counted per client address in PostgreSQL (shared by the replicas)
   * and refused past the limit; its audit is that count, not a row per call.
   */
  const refuseUnauthenticated = async (request: FastifyRequest, reply: FastifyReply, action: string, denial: ApiError): Promise<never> => {
    const count = await recordAuthFailure(deps.db, { address: request.ip, action, outcome: denial.code });
    if (count.failures > failuresPerMinute) throw rateLimited(reply, count.retryAfterSeconds, 'failed authentications from this address');
    throw denial;
  };

  /** Authenticates, authorises and audits an admin call; the handler audits its own success. */
  const guarded =
    (action: string, role: Role, handler: (caller: Caller, request: FastifyRequest, key: string | undefined) => Promise<unknown>) =>
    async (request: FastifyRequest, reply: FastifyReply) => {
      request.audited = true;
      const { name, caller, denial } = await auditName(deps, request);
      if (denial) return refuseUnauthenticated(request, reply, action, denial);
      const key = presentedKey(request.headers.authorization);
      const payload = { request: request.method === 'GET' ? request.query : request.body };
      const allowed = limit(name);
      let failure: ApiError | undefined;
      if (!allowed.ok) failure = rateLimited(reply, allowed.retryAfterSeconds, 'admin requests with this key');
      if (!failure && !hasRole(caller, role)) failure = new ApiError('FORBIDDEN', `${action} needs the ${role} role`);
      if (failure) {
        await auditDenied(deps.db, { key, action, payload, outcome: failure.code });
        throw failure;
      }
      try {
        return await handler(caller!, request, key);
      } catch (error) {
        const code = error instanceof CodedError ? error.code : 'INTERNAL_ERROR';
        await auditDenied(deps.db, { key, action, payload, outcome: code }).catch(() => undefined);
        throw error;
      }
    };

  app.post(
    '/admin/balance',
    {
      config: { openapi: adminWrite("Set an actor's balance: an adjustment entry against world for the difference (admin)", balanceBody) },
    },
    guarded('admin.balance', 'admin', async (_caller, request, key) => {
      const body = parseBody(balanceBody, request.body);
      return deps.admin.setBalance({ key, actorRef: body.actor_id, resource: body.resource, amount: body.amount, payload: body });
    }),
  );

  app.post(
    '/admin/reset-credit',
    { config: { openapi: adminWrite("Set credits back to the scenario's default_credit (admin)", resetBody) } },
    guarded('admin.reset_credit', 'admin', async (_caller, request, key) => {
      const body = parseBody(resetBody, request.body);
      return deps.admin.resetCredit({ key, actorRef: body.actor_id, payload: body });
    }),
  );

  app.post(
    '/admin/circuit-breaker',
    { config: { openapi: adminWrite('Halt (enabled: true) or resume /execute on every replica (operator)', breakerBody) } },
    guarded('admin.circuit_breaker', 'operator', async (caller, request, key) => {
      const body = parseBody(breakerBody, request.body);
      const reason = body.enabled ? (body.reason ?? `halted by ${caller.name}`) : (body.reason ?? null);
      return deps.admin.setCircuitBreaker({ key, enabled: body.enabled, reason, payload: body });
    }),
  );

  app.get(
    '/admin/audit',
    { config: { openapi: adminRead('The audit log, newest first (viewer)', auditQuery) } },
    guarded('admin.audit', 'viewer', async (_caller, request, key) => {
      const q = parseQuery(auditQuery, request.query);
      const page = await listAudit(deps.readDb, { before: q.cursor, limit: q.limit, action: q.action, adminUser: q.admin_user });
      await auditRead(deps.db, key, 'admin.audit', { request: request.query });
      return page;
    }),
  );

  app.get(
    '/admin/auth-failures',
    {
      config: {
        openapi: adminRead('Failed admin authentications, counted per client address and minute, newest first (viewer)', authFailuresQuery),
      },
    },
    guarded('admin.auth_failures', 'viewer', async (_caller, request, key) => {
      const { limit: rows } = parseQuery(authFailuresQuery, request.query);
      const failures = await listAuthFailures(deps.readDb, rows);
      await auditRead(deps.db, key, 'admin.auth_failures', { request: request.query });
      return { failures };
    }),
  );
}
