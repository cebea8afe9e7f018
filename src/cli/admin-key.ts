import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { ConfigError } from '../config.ts';

export const ADMIN_KEY_FILE = 'admin-key';

/** The admin key `gridgov start` keeps in the data dir, if there is one. */
export function readStoredAdminKey(dataDir: string): string | undefined {
  try {
    const key = readFileSync(join(resolve(dataDir), ADMIN_KEY_FILE), 'utf8').trim();
    return key.length >= 16 ? key : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The bootstrap admin key of a `gridgov start` without GRIDGOV_ADMIN_KEY: made once, kept in
 * DATA_DIR/admin-key (owner-only), so the dashboard and the CLI have a key from the first start.
 */
export function ensureStoredAdminKey(dataDir: string): { key: string; file: string; created: boolean } {
  const file = join(resolve(dataDir), ADMIN_KEY_FILE);
  const existing = readStoredAdminKey(dataDir);
  if (existing) return { key: existing, file, created: false };
  try {
    mkdirSync(resolve(dataDir), { recursive: true });
  } catch (error) {
    throw new ConfigError(`cannot create the data dir ${resolve(dataDir)} (GRIDGOV_DATA_DIR or --data-dir): ${(error as Error).message}`);
  }
  const key = `ggk_${randomBytes(32).toString('base64url')}`;
  writeFileSync(file, `${key}\n`, { mode: 0o600 });
  return { key, file, created: true };
}
