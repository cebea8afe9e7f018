import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { CodedError } from '../../domain/errors.ts';
import { listAudit, writeAudit } from '../../governance/audit.ts';
import { hasRole, type Caller, type Role } from '../../governance/auth.ts';
import type { Admin } from '../../governance/admin.ts';
import type { AppDeps } from '../deps.ts';
import { ApiError } from '../errors.ts';
import { createRateLimiter } from '../rate-limit.ts';
import { ledgerIdParam, limitParam, parseBody, parseQuery } from '../query.ts';

declare module 'fastify' {
  interface FastifyRequest {
    audited: boolean;
  }
}

const balanceBody = z.strictObject({ actor_id: z.string().min(1).max(200), resource: z.string().min(1).max(64), amount: z.union([z.number(), z.string().max(64)]) });
const resetBody = z.strictObject({ actor_id: z.string().min(1).max(200) });
const breakerBody = z.strictObject({ enabled: z.boolean(), reason: z.string().max(500).optional() });
const auditQuery = z.strictObject({ cursor: ledgerIdParam.optional(), limit: limitParam, action: z.string().max(64).optional(), admin_user: z.string().max(64).optional() });

/** Who to name in the audit: the key's name, never the key itself. */
async function auditName(deps: AppDeps, request: FastifyRequest): Promise<{ name: string; caller?: Caller; denial?: ApiError }> {
  const auth = await deps.authenticate(request.headers.authorization);
  if (auth.kind === 'caller') return { name: auth.caller.name, caller: auth.caller };
  if (auth.kind === 'invalid') return { name: '(invalid key)', denial: new ApiError('UNAUTHORIZED', auth.reason) };
  return { name: 'anonymous', denial: new ApiError('UNAUTHORIZED', 'an API key is required: Authorization: Bearer <key>') };
}

/**
 * Audits a failed admin call that never reached its handler (a body that is not JSON, too large,
 * of the wrong type): every admin call, denied or failed, leaves an audit row.
 */
export async function auditFailedAdminCall(deps: AppDeps, request: FastifyRequest, code: string): Promise<void> {
  if (request.audited || !request.url.startsWith('/admin/')) return;
  request.audited = true;
  const { name } = await auditName(deps, request);
  await writeAudit(deps.db, { adminUser: name, action: `admin.${request.url.slice(7).split('?')[0]}`, payload: {}, outcome: code });
}

export function registerAdminRoutes(app: FastifyInstance, deps: AppDeps & { admin: Admin }): void {
  app.decorateRequest('audited', false);
  const limit = createRateLimiter({ perMinute: deps.adminRatePerMinute ?? 120 });

  /** Authenticates, authorises and audits an admin call; the handler audits its own success. */
  const guarded =
    (action: string, role: Role, handler: (caller: Caller, request: FastifyRequest) => Promise<unknown>) =>
    async (request: FastifyRequest, reply: FastifyReply) => {
      request.audited = true;
      const { name, caller, denial } = await auditName(deps, request);
      const payload = { request: request.method === 'GET' ? request.query : request.body };
      // Limited per client address whatever the key, so guessing keys is as slow as any call.
      const allowed = limit(request.ip);
      let failure: ApiError | undefined;
      if (!allowed.ok) {
        void reply.header('retry-after', String(allowed.retryAfterSeconds));
        failure = new ApiError('RATE_LIMITED', `too many admin requests; retry in ${allowed.retryAfterSeconds} s`, { retry_after: allowed.retryAfterSeconds });
      }
      failure ??= denial;
      if (!failure && !hasRole(caller, role)) failure = new ApiError('FORBIDDEN', `${action} needs the ${role} role`);
      if (failure) {
        await writeAudit(deps.db, { adminUser: name, action, payload, outcome: failure.code });
        throw failure;
      }
      try {
        return await handler(caller!, request);
      } catch (error) {
        const code = error instanceof CodedError ? error.code : 'INTERNAL_ERROR';
        await writeAudit(deps.db, { adminUser: name, action, payload, outcome: code }).catch(() => undefined);
        throw error;
      }
    };

  app.post(
    '/admin/balance',
    guarded('admin.balance', 'admin', async (caller, request) => {
      const body = parseBody(balanceBody, request.body);
      return deps.admin.setBalance({ actorRef: body.actor_id, resource: body.resource, amount: body.amount, adminUser: caller.name, payload: body });
    }),
  );

  app.post(
    '/admin/reset-credit',
    guarded('admin.reset_credit', 'admin', async (caller, request) => {
      const body = parseBody(resetBody, request.body);
      return deps.admin.resetCredit({ actorRef: body.actor_id, adminUser: caller.name, payload: body });
    }),
  );

  app.post(
    '/admin/circuit-breaker',
    guarded('admin.circuit_breaker', 'operator', async (caller, request) => {
      const body = parseBody(breakerBody, request.body);
      const reason = body.enabled ? (body.reason ?? `halted by ${caller.name}`) : (body.reason ?? null);
      return deps.admin.setCircuitBreaker({ enabled: body.enabled, reason, adminUser: caller.name, payload: body });
    }),
  );

  app.get(
    '/admin/audit',
    guarded('admin.audit', 'viewer', async (caller, request) => {
      const q = parseQuery(auditQuery, request.query);
      const page = await listAudit(deps.readDb, { before: q.cursor, limit: q.limit, action: q.action, adminUser: q.admin_user });
      await writeAudit(deps.db, { adminUser: caller.name, action: 'admin.audit', payload: { request: request.query }, outcome: 'applied' });
      return page;
    }),
  );
}
