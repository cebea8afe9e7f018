import { randomUUID } from 'node:crypto';
import type { AuthMode } from '../config.ts';
import type { Db } from '../db/db.ts';
import { generateKey, hashKey, ROLES, type Role } from './auth.ts';

export class KeyError extends Error {}

export interface KeyInfo {
  name: string;
  role: Role;
  created_at: string;
  revoked_at: string | null;
}

const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$/;

/**
 * Creates a key and returns it: the only time it exists in clear; only its SHA-256 is stored. An
 * agent key is bound to one actor (by name or id), the only one whose funds it may move.
 */
export async function createApiKey(db: Db, name: string, role: string, actor?: string): Promise<{ key: string; info: KeyInfo }> {
  if (!NAME_RE.test(name)) throw new KeyError('the name must be 1-64 letters, digits, _ . @ or -, starting with a letter or digit');
  if (!ROLES.includes(role as Role)) throw new KeyError(`the role must be one of ${ROLES.join(', ')}`);
  if (name === 'bootstrap' || name === 'anonymous') throw new KeyError(`"${name}" is reserved`);
  if ((role === 'agent') !== (actor !== undefined)) throw new KeyError('--actor is required for the agent role, and only for it');
  const actorId = actor === undefined ? null : await actorIdOf(db, actor);
  const key = generateKey();
  const { rows } = await db.query<{ created_at: Date }>(
    'INSERT INTO api_keys (id, name, role, key_hash, actor_id) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (name) DO NOTHING RETURNING created_at',
    [randomUUID(), name, role, hashKey(key), actorId],
  );
  if (rows.length === 0) throw new KeyError(`a key named "${name}" already exists`);
  return { key, info: { name, role: role as Role, created_at: rows[0]!.created_at.toISOString(), revoked_at: null } };
}

async function actorIdOf(db: Db, actor: string): Promise<string> {
  const { rows } = await db.query<{ id: string; kind: string }>('SELECT id, kind FROM actors WHERE name = $1 OR id::text = $1', [actor]);
  const row = rows[0];
  if (!row) throw new KeyError(`--actor: no actor named "${actor}"`);
  if (row.kind === 'system') throw new KeyError(`--actor: "${actor}" is the world; agent keys are for the other actors`);
  return row.id;
}

export async function listApiKeys(db: Db): Promise<KeyInfo[]> {
  const { rows } = await db.query<{ name: string; role: Role; created_at: Date; revoked_at: Date | null }>(
    'SELECT name, role, created_at, revoked_at FROM api_keys ORDER BY created_at, name',
  );
  return rows.map((r) => ({
    name: r.name,
    role: r.role,
    created_at: r.created_at.toISOString(),
    revoked_at: r.revoked_at?.toISOString() ?? null,
  }));
}

/** Revokes a key by name; it stops working at once on every validator. */
export async function revokeApiKey(db: Db, name: string): Promise<void> {
  const result = await db.query('UPDATE api_keys SET revoked_at = coalesce(revoked_at, now()) WHERE name = $1', [name]);
  if (result.rowCount === 0) throw new KeyError(`no key named "${name}"`);
}

/**
 * Registers GRIDGOV_ADMIN_KEY's hash, so that the database's own checks (migration 000071) accept
 * the bootstrap key too. Only a login that owns the schema may: returns false, changing nothing,
 * for the application role, whose privileges do not reach the table.
 */
export async function registerBootstrapKey(db: Db, key: string): Promise<boolean> {
  try {
    await db.query(
      `INSERT INTO bootstrap_key (id, key_hash) VALUES (1, $1)
       ON CONFLICT (id) DO UPDATE SET key_hash = excluded.key_hash, registered_at = now() WHERE bootstrap_key.key_hash <> excluded.key_hash`,
      [hashKey(key)],
    );
    return true;
  } catch (error) {
    if ((error as { code?: unknown }).code === '42501') return false;
    throw error;
  }
}

/**
 * Records what an anonymous POST /execute may do (GRIDGOV_EXECUTE_AUTH) where record_proposals reads
 * it (wall_settings, migration 000152): the database, not the caller, decides whether a proposal
 * without a key is refused. Only an owning login may: returns false, changing nothing, for the
 * application role.
 */
export async function registerExecuteAuth(db: Db, mode: AuthMode): Promise<boolean> {
  try {
    await db.query('UPDATE wall_settings SET execute_auth = $1, updated_at = now() WHERE id = 1 AND execute_auth <> $1', [mode]);
    return true;
  } catch (error) {
    if ((error as { code?: unknown }).code === '42501') return false;
    throw error;
  }
}

/** The execute auth mode the database enforces. */
export async function registeredExecuteAuth(db: Db): Promise<AuthMode> {
  const { rows } = await db.query<{ execute_auth: AuthMode }>('SELECT execute_auth FROM wall_settings WHERE id = 1');
  return rows[0]?.execute_auth ?? 'required';
}
