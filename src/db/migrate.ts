import { readdir, readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import type { Db } from './db.ts';

const MIGRATIONS_DIR = fileURLToPath(new URL('./migrations/', import.meta.url));
// Arbitrary but fixed: every migrator, in every process, serialises on this key.
const MIGRATION_LOCK_KEY = 4_711_000_001;

export interface Migration {
  id: number;
  name: string;
  sql: string;
}

export async function loadMigrations(dir = MIGRATIONS_DIR): Promise<Migration[]> {
  const files = (await readdir(dir)).filter((f) => /^\d{6}_[a-z0-9_]+\.sql$/.test(f)).sort();
  return Promise.all(
    files.map(async (file) => ({
      id: Number(file.slice(0, 6)),
      name: file.replace(/\.sql$/, ''),
      sql: await readFile(`${dir}/${file}`, 'utf8'),
    })),
  );
}

/**
 * Applies pending migrations in order, all in one transaction under an advisory lock: concurrent
 * starters do not race, and a failing migration leaves the schema as it was. Returns the names of
 * the migrations it applied (none on a second run).
 */
export async function migrate(db: Db): Promise<string[]> {
  const migrations = await loadMigrations();
  // Up to date: touch nothing, so a role without DDL rights (the validator's) may call this too.
  const { rows: table } = await db.query<{ exists: boolean }>("SELECT to_regclass('schema_migrations') IS NOT NULL AS exists");
  if (table[0]?.exists) {
    const { rows } = await db.query<{ id: number }>('SELECT id FROM schema_migrations');
    const known = new Set(rows.map((r) => r.id));
    if (migrations.every((m) => known.has(m.id))) return [];
  }
  return db.transaction(async (tx) => {
    await tx.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK_KEY]);
    await tx.query(`CREATE TABLE IF NOT EXISTS schema_migrations (
      id integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`);
    const { rows } = await tx.query<{ id: number }>('SELECT id FROM schema_migrations');
    const applied = new Set(rows.map((r) => r.id));
    const done: string[] = [];
    for (const migration of migrations) {
      if (applied.has(migration.id)) continue;
      await tx.query('SAVEPOINT migration');
      await tx.query(migration.sql);
      await tx.query('INSERT INTO schema_migrations (id, name) VALUES ($1, $2)', [migration.id, migration.name]);
      await tx.query('RELEASE SAVEPOINT migration');
      done.push(migration.name);
    }
    return done;
  });
}
