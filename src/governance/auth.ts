import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Db } from '../db/db.ts';

export const Role = { viewer: 'viewer', operator: 'operator', admin: 'admin', system: 'system', agent: 'agent' } as const;
export type Role = (typeof Role)[keyof typeof Role];
export const ROLES: readonly Role[] = Object.values(Role);

export interface Caller {
  name: string;
  roles: ReadonlySet<Role>;
  /** An agent key's own actor: the only one whose funds it may move. */
  actorId?: string;
}

/**
 * Roles nest viewer < operator < admin; system (the runner's role) also reads. An agent reads the
 * API's reads too (the access hook lets it), but not the admin audit: it is no viewer.
 */
const GRANTS: Record<Role, Role[]> = {
  viewer: ['viewer'],
  operator: ['viewer', 'operator'],
  admin: ['viewer', 'operator', 'admin'],
  system: ['viewer', 'system'],
  agent: ['agent'],
};

export function hasRole(caller: Caller | undefined, role: Role): boolean {
  return caller?.roles.has(role) ?? false;
}

export function hashKey(key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('hex');
}

export function generateKey(): string {
  return `ggk_${randomBytes(32).toString('base64url')}`;
}

export type Authentication = { kind: 'anonymous' } | { kind: 'invalid'; reason: string } | { kind: 'caller'; caller: Caller };

/** The scheme is case-insensitive (RFC 9110 §11.1): "bearer" and "BEARER" are "Bearer". */
const BEARER_RE = /^Bearer +([\x21-\x7e]{1,512})$/i;

/**
 * The key a request presented, raw, for the database functions that check it themselves
 * (migration 000071): the bearer token, or the whole header when it is malformed (an unknown key
 * to the database), or undefined without one.
 */
export function presentedKey(header: string | undefined): string | undefined {
  if (header === undefined || header === '') return undefined;
  return BEARER_RE.exec(header)?.[1] ?? header;
}

/**
 * Turns an Authorization header into a caller. The bootstrap key (GRIDGOV_ADMIN_KEY) holds every
 * role; other keys are looked up by their SHA-256, and the match is confirmed in constant time.
 */
export function createAuthenticator(deps: { db: Db; bootstrapKey: string | undefined }) {
  const bootstrapHash = deps.bootstrapKey ? Buffer.from(hashKey(deps.bootstrapKey), 'hex') : undefined;
  // Every role but agent: the bootstrap key is bound to no actor.
  const everyRole = new Set<Role>(ROLES.filter((role) => role !== 'agent'));

  return async function authenticate(header: string | undefined): Promise<Authentication> {
    if (header === undefined || header === '') return { kind: 'anonymous' };
    const key = BEARER_RE.exec(header)?.[1];
    if (!key) return { kind: 'invalid', reason: 'the Authorization header must be "Bearer <key>"' };
    const digest = Buffer.from(hashKey(key), 'hex');
    if (bootstrapHash && timingSafeEqual(digest, bootstrapHash)) {
      return { kind: 'caller', caller: { name: 'bootstrap', roles: everyRole } };
    }
    const { rows } = await deps.db.query<{ name: string; role: Role; key_hash: string; revoked: boolean; actor_id: string | null }>(
      'SELECT name, role, key_hash, revoked_at IS NOT NULL AS revoked, actor_id FROM api_keys WHERE key_hash = $1',
      [digest.toString('hex')],
    );
    const row = rows[0];
    if (!row || !timingSafeEqual(Buffer.from(row.key_hash, 'hex'), digest)) return { kind: 'invalid', reason: 'unknown API key' };
    if (row.revoked) return { kind: 'invalid', reason: 'this API key has been revoked' };
    const caller: Caller = { name: row.name, roles: new Set(GRANTS[row.role]) };
    if (row.actor_id) caller.actorId = row.actor_id;
    return { kind: 'caller', caller };
  };
}

export type Authenticator = ReturnType<typeof createAuthenticator>;
