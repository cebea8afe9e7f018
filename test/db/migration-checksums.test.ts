import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readdirSync, rmSync, unlinkSync, appendFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, test } from 'node:test';
import { loadMigrations, migrate, MigrationIntegrityError } from '../../src/db/migrate.ts';
import { createTestDatabase, type TestDatabase } from '../support/db.ts';
import { runCli } from '../support/validator.ts';

const MIGRATIONS = fileURLToPath(new URL('../../src/db/migrations/', import.meta.url));

let t: TestDatabase;
let dir: string;
before(async () => {
  t = await createTestDatabase(2);
  dir = mkdtempSync(join(tmpdir(), 'gridgov-migrations-'));
});
after(async () => {
  rmSync(dir, { recursive: true, force: true });
  await t.drop();
});

/** A copy of the migrations folder, changed by `edit`. */
function copyWith(name: string, edit: (folder: string) => void): string {
  const folder = join(dir, name);
  cpSync(MIGRATIONS, folder, { recursive: true });
  edit(folder);
  return folder;
}

const ledgerBlocks = () =>
  readdirSync(MIGRATIONS)
    .find((f) => f.startsWith('000012_'))!
    .replace(/\.sql$/, '');

test('every applied migration has the sha256 of its file recorded', async () => {
  const files = await loadMigrations();
  const { rows } = await t.db.query<{ id: number; checksum: string }>('SELECT id, checksum FROM schema_migrations ORDER BY id');
  assert.deepEqual(
    rows,
    files.map((m) => ({ id: m.id, checksum: m.checksum })),
  );
  assert.match(rows[0]!.checksum, /^[0-9a-f]{64}$/);
});

test('a landed migration whose file changed stops the migrator, which names it and changes nothing', async () => {
  const name = ledgerBlocks();
  const folder = copyWith('changed', (f) => appendFileSync(join(f, `${name}.sql`), '\n-- an edit in place\n'));
  const before = await t.db.query('SELECT id, name, checksum, applied_at FROM schema_migrations ORDER BY id');
  await assert.rejects(migrate(t.db, { dir: folder }), (error: unknown) => {
    assert.ok(error instanceof MigrationIntegrityError);
    assert.equal(error.migration, name);
    assert.match(error.message, new RegExp(`migration ${name} has changed since it was applied`));
    return true;
  });
  const afterRows = await t.db.query('SELECT id, name, checksum, applied_at FROM schema_migrations ORDER BY id');
  assert.deepEqual(afterRows.rows, before.rows);
});

test('a landed migration whose file is gone stops the migrator, which names it', async () => {
  const name = ledgerBlocks();
  const folder = copyWith('missing', (f) => unlinkSync(join(f, `${name}.sql`)));
  await assert.rejects(migrate(t.db, { dir: folder }), (error: unknown) => {
    assert.ok(error instanceof MigrationIntegrityError);
    assert.equal(error.migration, name);
    assert.match(error.message, new RegExp(`migration ${name} was applied to this database but its file ${name}.sql is missing`));
    return true;
  });
});

test('a database migrated before checksums were kept gets them recorded from the current files', async () => {
  const expected = await t.db.query('SELECT id, checksum FROM schema_migrations ORDER BY id');
  await t.db.query('ALTER TABLE schema_migrations DROP COLUMN checksum');
  assert.deepEqual(await migrate(t.db), []);
  const { rows } = await t.db.query('SELECT id, checksum FROM schema_migrations ORDER BY id');
  assert.deepEqual(rows, expected.rows);
});

test('a database that applied the retired 000030 before checksums were kept migrates on, and loses its index', async () => {
  await t.db.query('CREATE INDEX ledger_executed_at_brin ON ledger USING brin (executed_at)');
  await t.db.query("DELETE FROM schema_migrations WHERE name = '000121_retire_executed_at_brin'");
  await t.db.query("INSERT INTO schema_migrations (id, name, checksum) VALUES (30, '000030_ledger_executed_at_brin', NULL)");
  assert.deepEqual(await migrate(t.db), ['000121_retire_executed_at_brin']);
  const { rows } = await t.db.query("SELECT to_regclass('ledger_executed_at_brin') IS NULL AS gone");
  assert.equal(rows[0]!.gone, true);
  await t.db.query("UPDATE schema_migrations SET checksum = repeat('0', 64) WHERE id = 30");
  await assert.rejects(
    migrate(t.db),
    MigrationIntegrityError,
    'a retired migration recorded with a checksum is not one that predates them',
  );
  await t.db.query('DELETE FROM schema_migrations WHERE id = 30');
});

test('`gridgov migrate` and `gridgov validator` refuse a changed migration with exit code 2, naming it', async () => {
  const name = ledgerBlocks();
  await t.db.query("UPDATE schema_migrations SET checksum = repeat('0', 64) WHERE name = $1", [name]);
  try {
    for (const args of [['migrate'], ['validator', '--port', '0']]) {
      const run = await runCli(args, t.url);
      assert.equal(run.code, 2, `${args[0]}: ${run.stderr}`);
      assert.match(run.stderr, new RegExp(`gridgov ${args[0]}: migration ${name} has changed since it was applied`));
    }
  } finally {
    const files = await loadMigrations();
    await t.db.query('UPDATE schema_migrations SET checksum = $2 WHERE name = $1', [name, files.find((m) => m.name === name)!.checksum]);
  }
  const ok = await runCli(['migrate'], t.url);
  assert.equal(ok.code, 0, ok.stderr);
  assert.match(ok.stdout, /schema is up to date/);
});
