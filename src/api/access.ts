import type { FastifyInstance } from 'fastify';
import type { AuthMode } from '../config.ts';
import { hasRole } from '../governance/auth.ts';
import type { AppDeps } from './deps.ts';
import { identify, requireRole } from './identify.ts';

/** Who may call what when the validator is exposed: `required` asks for a key, `open` does not. */
export interface AccessModes {
  execute: AuthMode;
  read: AuthMode;
}

/**
 * Answered to anyone: liveness and health for load balancers, the API's own description. Admin
 * routes authenticate and audit on their own; writes other than /execute need a role anyway.
 */
const PUBLIC_READS = new Set(['/livez', '/health', '/openapi.json', '/docs']);

/**
 * With read auth required, every other GET (reads, /events, /metrics) needs a viewer key or an
 * agent's (the runner and operators hold the viewer role). Checked before the body is read.
 */
export function registerReadAccess(app: FastifyInstance, deps: AppDeps, modes: AccessModes): void {
  if (modes.read === 'open') return;
  app.addHook('onRequest', async (request) => {
    if (request.method !== 'GET' && request.method !== 'HEAD') return;
    const route = request.routeOptions.url;
    if (route === undefined || PUBLIC_READS.has(route) || route.startsWith('/admin/')) return;
    const caller = await identify(request, deps.authenticate);
    if (!hasRole(caller, 'agent')) requireRole(caller, 'viewer');
    request.caller = caller;
  });
}
