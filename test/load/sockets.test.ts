import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { after, before, test } from 'node:test';
import { createTestDatabase, type TestDatabase } from '../support/db.ts';
import { seedTestScenario } from '../support/scenario.ts';
import { waitUntil } from '../support/wait.ts';
import { http, spawnValidator, type ValidatorProcess } from '../support/validator.ts';

// Short deadlines, so the attack is bounded in time; the defaults are longer (README).
const LIMITS = {
  GRIDGOV_HEADERS_TIMEOUT_MS: '2000',
  GRIDGOV_REQUEST_TIMEOUT_MS: '4000',
  GRIDGOV_KEEPALIVE_TIMEOUT_MS: '1000',
  GRIDGOV_IDLE_TIMEOUT_MS: '3000',
};
const SLOW_HEADERS = 500;
const SLOW_BODIES = 500;
const IDLE = 3000;

let t: TestDatabase;
let p: ValidatorProcess;
before(async () => {
  t = await createTestDatabase(4);
  await seedTestScenario(t.db);
  p = await spawnValidator(t.url, LIMITS);
});
after(async () => {
  p?.child.kill('SIGTERM');
  await p?.exited;
  await t.drop();
});

const rssBytes = (pid: number) => Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) * 1024;

interface Attacker {
  socket: Socket;
  closed: boolean;
}

/** Opens a socket to the validator; `opened` runs once it is connected. */
function open(port: number, opened: (socket: Socket) => void): Promise<Attacker> {
  return new Promise((resolve, reject) => {
    const socket = connect({ port, host: '127.0.0.1' });
    const attacker: Attacker = { socket, closed: false };
    socket.on('close', () => (attacker.closed = true));
    socket.on('data', () => undefined);
    socket.once('error', (error) => (socket.connecting ? reject(error) : undefined));
    socket.once('connect', () => {
      opened(socket);
      resolve(attacker);
    });
  });
}

async function openMany(n: number, port: number, opened: (socket: Socket) => void): Promise<Attacker[]> {
  const all: Attacker[] = [];
  for (let i = 0; i < n; i += 250) all.push(...(await Promise.all(Array.from({ length: Math.min(250, n - i) }, () => open(port, opened)))));
  return all;
}

test(
  'slow headers, slow bodies and thousands of idle sockets: the validator keeps answering and cuts them off',
  { timeout: 120_000 },
  async (ctx) => {
    const port = Number(new URL(p.url).port);
    const pid = p.child.pid!;
    const rssBefore = rssBytes(pid);
    let peakRss = rssBefore;

    const slowHeaders = await openMany(SLOW_HEADERS, port, (s) => s.write('POST /execute HTTP/1.1\r\nHost: x\r\n'));
    const slowBodies = await openMany(SLOW_BODIES, port, (s) =>
      s.write('POST /execute HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{'),
    );
    const idle = await openMany(IDLE, port, () => undefined);
    const attackers = [...slowHeaders, ...slowBodies, ...idle];
    const opened = Date.now();
    // One byte at a time, every 500 ms, for as long as the server lets them.
    const drip = setInterval(() => {
      for (const a of slowHeaders) if (!a.closed) a.socket.write('X');
      for (const a of slowBodies) if (!a.closed) a.socket.write(' ');
      peakRss = Math.max(peakRss, rssBytes(pid));
    }, 500);

    try {
      // While they hold their sockets, real clients are answered.
      let answered = 0;
      for (let i = 0; i < 5; i++) {
        assert.equal((await http(p.url, 'GET', '/livez')).status, 200);
        const trade = await http(p.url, 'POST', '/execute', {
          proposal_id: randomUUID(),
          actor_from: 'alice',
          actor_to: 'bob',
          resource: 'water',
          amount: 1,
        });
        assert.equal(trade.status, 200, JSON.stringify(trade.body));
        answered++;
        peakRss = Math.max(peakRss, rssBytes(pid));
      }
      assert.equal(answered, 5);

      // Each kind is cut off by its own deadline (plus the server's check interval and a margin).
      await waitUntil(() => idle.every((a) => a.closed), 'every idle socket closed', {
        timeoutMs: Number(LIMITS.GRIDGOV_HEADERS_TIMEOUT_MS) * 3,
      });
      await waitUntil(() => slowHeaders.every((a) => a.closed), 'every slow-header socket closed', {
        timeoutMs: Number(LIMITS.GRIDGOV_HEADERS_TIMEOUT_MS) * 3,
      });
      await waitUntil(() => slowBodies.every((a) => a.closed), 'every slow-body socket closed', {
        timeoutMs: Number(LIMITS.GRIDGOV_REQUEST_TIMEOUT_MS) * 3,
      });
      ctx.diagnostic(
        `${attackers.length} attacking sockets all closed ${Date.now() - opened} ms after opening; RSS ${Math.round(rssBefore / 2 ** 20)} MB before, peak ${Math.round(peakRss / 2 ** 20)} MB`,
      );
    } finally {
      clearInterval(drip);
      for (const a of attackers) a.socket.destroy();
    }
    assert.ok(peakRss < 250 * 2 ** 20, `RSS peaked at ${Math.round(peakRss / 2 ** 20)} MB`);

    // Afterwards everything works as before.
    assert.equal((await http(p.url, 'GET', '/livez')).status, 200);
    const after = await http(p.url, 'POST', '/execute', {
      proposal_id: randomUUID(),
      actor_from: 'alice',
      actor_to: 'bob',
      resource: 'water',
      amount: 1,
    });
    assert.equal(after.status, 200);
    assert.equal((await http(p.url, 'GET', '/world-state')).status, 200);
  },
);

test(
  'past GRIDGOV_MAX_CONNECTIONS new connections are dropped at once, and served again once there is room',
  { timeout: 60_000 },
  async () => {
    const capped = await spawnValidator(t.url, {
      ...LIMITS,
      GRIDGOV_MAX_CONNECTIONS: '40',
      GRIDGOV_IDLE_TIMEOUT_MS: '60000',
      GRIDGOV_HEADERS_TIMEOUT_MS: '30000',
      GRIDGOV_REQUEST_TIMEOUT_MS: '30000',
    });
    try {
      const port = Number(new URL(capped.url).port);
      // Partial requests (headers never finished) keep their sockets: they fill the cap.
      const held = await openMany(40, port, (s) => s.write('GET /livez HTTP/1.1\r\n'));
      await new Promise((resolve) => setTimeout(resolve, 200));
      const extra = await openMany(10, port, (s) => s.write('GET /livez HTTP/1.1\r\n'));
      await waitUntil(() => extra.every((a) => a.closed), 'the connections over the cap dropped', { timeoutMs: 10_000 });
      assert.equal(held.filter((a) => a.closed).length, 0, 'the connections within the cap stay');
      for (const a of held) a.socket.destroy();
      await waitUntil(() => held.every((a) => a.closed), 'room again', { timeoutMs: 5000 });
      let status = 0;
      for (let i = 0; i < 50 && status !== 200; i++) {
        status = await http(capped.url, 'GET', '/livez').then(
          (r) => r.status,
          () => 0,
        );
        if (status !== 200) await new Promise((resolve) => setTimeout(resolve, 100));
      }
      assert.equal(status, 200);
    } finally {
      capped.child.kill('SIGTERM');
      await capped.exited;
    }
  },
);
