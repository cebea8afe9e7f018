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

/**
 * The banner's lines for a key kept in the data dir. The sign-in link carries the whole key, so
 * it is printed only to a terminal, which the person who started the server reads; stdout sent
 * to a file, a pipe or a log collector gets where the key is kept instead.
 */
export function storedKeyLines(stored: { key: string; file: string; created: boolean }, dashboardUrl: string, terminal: boolean): string[] {
  return [
    `  admin key  ${stored.file}${stored.created ? ' (created now)' : ''}: every role; GRIDGOV_ADMIN_KEY replaces it`,
    terminal
      ? `  sign in    ${dashboardUrl}/#key=${stored.key}`
      : `  sign in    ${dashboardUrl}, with the key in ${stored.file} (the link that carries it is printed to a terminal only)`,
  ];
}
