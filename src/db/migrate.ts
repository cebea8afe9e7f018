import { createHash } from 'node:crypto';
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
  /** sha256 of the file's bytes, recorded when it is applied. */
  checksum: string;
}

/**
 * A landed migration was changed or removed: the database was built from other SQL than the files
 * say, so nothing is migrated and the process stops (the CLI exits with code 2). A change to the
 * schema is always a new migration.
 */
export class MigrationIntegrityError extends Error {
  constructor(
    readonly migration: string,
    message: string,
  ) {
    super(message);
    this.name = 'MigrationIntegrityError';
  }
}

export async function loadMigrations(dir = MIGRATIONS_DIR): Promise<Migration[]> {
  const files = (await readdir(dir)).filter((f) => /^\d{6}_[a-z0-9_]+\.sql$/.test(f)).sort();
  return Promise.all(
    files.map(async (file) => {
      const bytes = await readFile(`${dir}/${file}`);
      return {
        id: Number(file.slice(0, 6)),
        name: file.replace(/\.sql$/, ''),
        sql: bytes.toString('utf8'),
        checksum: createHash('sha256').update(bytes).digest('hex'),
      };
    }),
  );
}

interface Applied {
  id: number;
  name: string;
  checksum: string | null;
}

/**
 * Migrations removed before checksums were kept, and the migration that undoes them on databases
 * that applied them. Nothing may join this list: a landed migration is never removed again.
 */
const RETIRED: ReadonlyMap<string, string> = new Map([['000030_ledger_executed_at_brin', '000121_retire_executed_at_brin']]);

/** Every applied migration must still be on disk, byte for byte. A null checksum predates them. */
export function checkApplied(applied: Applied[], migrations: Migration[]): void {
  const byId = new Map(migrations.map((m) => [m.id, m]));
  for (const row of applied) {
    const file = byId.get(row.id);
    if (!file && row.checksum === null && RETIRED.has(row.name)) continue;
    if (!file || file.name !== row.name) {
      throw new MigrationIntegrityError(
        row.name,
        `migration ${row.name} was applied to this database but its file ${row.name}.sql is missing; ` +
          'restore the file as it was (a landed migration is never removed or renamed; undo it in a new migration)',
      );
    }
    if (row.checksum !== null && row.checksum !== file.checksum) {
      throw new MigrationIntegrityError(
        row.name,
        `migration ${row.name} has changed since it was applied (sha256 recorded ${row.checksum.slice(0, 12)}…, file now ${file.checksum.slice(0, 12)}…); ` +
          'restore the file as it was and put the change in a new migration',
      );
    }
  }
}

async function readApplied(db: Db): Promise<Applied[] | undefined> {
  const { rows: table } = await db.query<{ exists: boolean; checksums: boolean }>(
    `SELECT to_regclass('schema_migrations') IS NOT NULL AS exists,
            EXISTS (SELECT 1 FROM information_schema.columns
                     WHERE table_name = 'schema_migrations' AND column_name = 'checksum'
                       AND table_schema = current_schema()) AS checksums`,
  );
  if (!table[0]?.exists) return undefined;
  const { rows } = await db.query<Applied>(
    `SELECT id, name, ${table[0].checksums ? 'checksum' : 'NULL::text AS checksum'} FROM schema_migrations ORDER BY id`,
  );
  return rows;
}

/**
 * Applies pending migrations in order, all in one transaction under an advisory lock: concurrent
 * starters do not race, and a failing migration leaves the schema as it was. Returns the names of
 * the migrations it applied (none on a second run).
 *
 * Every run first checks the applied migrations against the files (MigrationIntegrityError when
 * one changed or is gone). A database migrated before checksums were kept gets them recorded
 * from the current files the first time.
 */
export async function migrate(db: Db, options: { dir?: string } = {}): Promise<string[]> {
  const migrations = await loadMigrations(options.dir);
  // Up to date: touch nothing, so a role without DDL rights (the validator's) may call this too.
  const known = await readApplied(db);
  if (known) {
    checkApplied(known, migrations);
    const ids = new Set(known.map((r) => r.id));
    if (known.every((r) => r.checksum !== null || RETIRED.has(r.name)) && migrations.every((m) => ids.has(m.id))) return [];
  }
  return db.transaction(async (tx) => {
    await tx.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK_KEY]);
    await tx.query(`CREATE TABLE IF NOT EXISTS schema_migrations (
      id integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`);
    await tx.query('ALTER TABLE schema_migrations ADD COLUMN IF NOT EXISTS checksum text');
    const applied = (await readApplied(tx)) ?? [];
    checkApplied(applied, migrations);
    const byId = new Map(migrations.map((m) => [m.id, m]));
    for (const row of applied.filter((r) => r.checksum === null && byId.has(r.id))) {
      await tx.query('UPDATE schema_migrations SET checksum = $2 WHERE id = $1', [row.id, byId.get(row.id)!.checksum]);
    }
    const done: string[] = [];
    const ids = new Set(applied.map((r) => r.id));
    for (const migration of migrations) {
      if (ids.has(migration.id)) continue;
      await tx.query('SAVEPOINT migration');
      await tx.query(migration.sql);
      await tx.query('INSERT INTO schema_migrations (id, name, checksum) VALUES ($1, $2, $3)', [
        migration.id,
        migration.name,
        migration.checksum,
      ]);
      await tx.query('RELEASE SAVEPOINT migration');
      done.push(migration.name);
    }
    return done;
  });
}
