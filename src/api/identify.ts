import type { FastifyRequest } from 'fastify';
import { hasRole, type Authenticator, type Caller, type Role } from '../governance/auth.ts';
import { ApiError } from './errors.ts';

/** Resolves the caller from the Authorization header; a key that is given but invalid is a 401. */
export async function identify(request: FastifyRequest, authenticate: Authenticator): Promise<Caller | undefined> {
  const result = await authenticate(request.headers.authorization);
  if (result.kind === 'invalid') throw new ApiError('UNAUTHORIZED', result.reason);
  return result.kind === 'caller' ? result.caller : undefined;
}

export function requireRole(caller: Caller | undefined, role: Role): void {
  if (!caller) throw new ApiError('UNAUTHORIZED', 'an API key is required: Authorization: Bearer <key>');
  if (!hasRole(caller, role)) throw new ApiError('FORBIDDEN', `this action needs the ${role} role`);
}
