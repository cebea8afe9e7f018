import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { subscribe } from 'node:diagnostics_channel';
import type { Socket } from 'node:net';
import { createDb, isDatabaseUnavailable, type Db } from '../../src/db/db.ts';
import { createTestDatabase, type TestDatabase } from '../support/db.ts';
import { startTcpProxy, type TcpProxy } from '../support/tcp-proxy.ts';
import { waitUntil } from '../support/wait.ts';

// Every socket this process opens, so that a test can wait until the client has seen the loss.
const sockets: Socket[] = [];
subscribe('net.client.socket', (message) => sockets.push((message as { socket: Socket }).socket));

let t: TestDatabase;
let proxy: TcpProxy;
let db: Db;
before(async () => {
  t = await createTestDatabase(2);
  proxy = await startTcpProxy({ targetPort: Number(new URL(t.url).port) });
  db = createDb(proxy.url(t.url), { max: 2 });
});
after(async () => {
  await db.close().catch(() => undefined);
  await proxy.close();
  await t.drop();
});

test('a connection lost inside a transaction fails that transaction, not the process', async () => {
  await assert.rejects(
    db.transaction(async (tx) => {
      await tx.query('SELECT 1');
      assert.equal(proxy.cut(), 1);
      // The loss arrives while no query runs: pg reports it as an 'error' event on the client.
      await waitUntil(
        () => sockets.filter((socket) => socket.remotePort === proxy.port).every((socket) => socket.destroyed),
        'the client sees its connection reset',
      );
      await tx.query('SELECT 1');
    }),
    (error: unknown) => isDatabaseUnavailable(error),
  );
  const { rows } = await db.transaction((tx) => tx.query<{ one: number }>('SELECT 1 AS one'));
  assert.deepEqual(rows, [{ one: 1 }], 'the pool carries on with a fresh connection');
});

test('a connection lost mid-query fails the query with a database-unavailable error', async () => {
  await assert.rejects(
    db.transaction(async (tx) => {
      const sleeping = tx.query('SELECT pg_sleep(5)');
      await waitUntil(
        async () =>
          (await t.db.query("SELECT 1 FROM pg_stat_activity WHERE query = 'SELECT pg_sleep(5)' AND state = 'active'")).rowCount > 0,
        'the query runs on the server',
      );
      assert.ok(proxy.cut() >= 1);
      await sleeping;
    }),
    (error: unknown) => isDatabaseUnavailable(error),
  );
  assert.equal((await db.query<{ one: number }>('SELECT 1 AS one')).rows[0]!.one, 1);
});
