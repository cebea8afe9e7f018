import { randomUUID } from 'node:crypto';
import type { Db } from '../db/db.ts';
import { hashKey } from './auth.ts';

/**
 * Stores the bootstrap key's SHA-256 as the api_keys row "bootstrap" with the system role, so
 * that the database itself can recognise it (record_proposals checks the key a client presents).
 * Run with the owner's connection when migrating, never with the validator's login.
 */
export async function storeBootstrapKey(db: Db, key: string): Promise<void> {
  await db.query(
    `INSERT INTO api_keys (id, name, role, key_hash) VALUES ($1, 'bootstrap', 'system', $2)
     ON CONFLICT (name) DO UPDATE SET key_hash = EXCLUDED.key_hash, role = 'system', revoked_at = NULL
      WHERE api_keys.key_hash <> EXCLUDED.key_hash OR api_keys.role <> 'system' OR api_keys.revoked_at IS NOT NULL`,
    [randomUUID(), hashKey(key)],
  );
}
