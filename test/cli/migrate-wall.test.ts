import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import pg from 'pg';
import { startStockPostgres, stockBinDir, type StockPostgres } from '../support/stock-postgres.ts';
import { runCli } from '../support/validator.ts';

/**
 * `gridgov migrate` fails closed: following the recipe for a separate owner without CREATEROLE,
 * it used to exit 0 with a notice and never create gridgov_app, so that the next step failed far
 * from the cause. It now exits 2 naming the role and the fix, and with the role created it migrates
 * and warns about what only a superuser can take from PUBLIC. A cluster of its own (Debian's
 * postgresql as packaged), because roles belong to the whole cluster.
 */

const bin = stockBinDir();
let server: StockPostgres | undefined;

before(async () => {
  if (!bin) return;
  server = await startStockPostgres();
  const admin = new pg.Client({ connectionString: server.url });
  await admin.connect();
  try {
    await admin.query("CREATE ROLE wall_owner LOGIN PASSWORD 'owner-secret'");
    await admin.query('CREATE DATABASE wall OWNER wall_owner');
  } finally {
    await admin.end();
  }
});
after(async () => {
  await server?.stop();
});

function ownerUrl(): string {
  const url = new URL(server!.url);
  url.username = 'wall_owner';
  url.password = 'owner-secret';
  url.pathname = '/wall';
  return url.toString();
}

test(
  'migrate exits 2 naming gridgov_app when the owner cannot create it, then migrates once a superuser has',
  { skip: bin ? false : "Debian's postgresql package is not installed" },
  async () => {
    const refused = await runCli(['migrate'], ownerUrl());
    assert.equal(refused.code, 2, refused.stderr);
    assert.match(refused.stderr, /the role gridgov_app does not exist and this login \(wall_owner\) could not create it/);
    assert.match(refused.stderr, /CREATE ROLE gridgov_app NOLOGIN/);

    const admin = new pg.Client({ connectionString: server!.url });
    await admin.connect();
    try {
      await admin.query('CREATE ROLE gridgov_app NOLOGIN');
    } finally {
      await admin.end();
    }
    const migrated = await runCli(['migrate'], ownerUrl());
    assert.equal(migrated.code, 0, migrated.stderr);
    assert.match(migrated.stdout, /applied \d+ migration\(s\)/);
    // Only a superuser can take the built-in lock and signal functions from PUBLIC: it says so.
    assert.match(migrated.stderr, /warning: the validator's login may still call \d+ built-in functions/);
  },
);
