import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { after, before, test } from 'node:test';
import fc from 'fast-check';
import { ADMIN_KEY } from '../support/validator.ts';
import { runs } from './arbitraries.ts';
import { changedParts, startFuzzTarget, stateDigest, Tally, type FuzzTarget, type StateDigest } from './support.ts';

// Bytes no HTTP client library would send, over a real socket: invalid UTF-8 inside JSON, NUL and
// control bytes, broken framing and smuggling attempts. The server must answer each with a 4xx (or
// a 2xx when the bytes still make a valid request) and change nothing when it refuses.

let target: FuzzTarget;
let port: number;
let state: StateDigest;
const tally = new Tally();
before(async () => {
  target = await startFuzzTarget();
  await target.app.listen({ port: 0, host: '127.0.0.1' });
  const address = target.app.server.address();
  port = typeof address === 'object' && address ? address.port : 0;
  state = await stateDigest(target.db);
});
after(() => target.close());

/** Writes raw bytes, reads until the server closes, returns the status (0: closed without answer). */
function raw(bytes: Buffer): Promise<{ status: number; text: string }> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => socket.destroy(), 3_000);
    socket.on('data', (chunk) => chunks.push(chunk));
    socket.on('error', () => undefined);
    socket.on('close', () => {
      clearTimeout(timer);
      const text = Buffer.concat(chunks).toString('latin1');
      resolve({ status: Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0), text });
    });
    // write, not end: a half-closed connection may be dropped before the answer is written.
    socket.write(bytes);
  });
}

const BAD_UTF8 = [
  [0xff],
  [0xfe, 0xff],
  [0xc0, 0xaf], // overlong '/'
  [0xe0, 0x80, 0xaf], // overlong
  [0xed, 0xa0, 0x80], // a UTF-16 surrogate encoded as UTF-8
  [0xf4, 0x90, 0x80, 0x80], // beyond U+10FFFF
  [0xc3], // truncated sequence
  [0x80], // lone continuation byte
  [0x00],
  [0x1b, 0x5b, 0x33, 0x31, 0x6d], // terminal escape
].map((b) => Buffer.from(b));

const field = fc.constantFrom('actor_from', 'actor_to', 'resource', 'metadata_value', 'metadata_key', 'proposal_id', 'amount');

/** A proposal whose one field carries raw bytes. */
const badBytesBody = fc
  .tuple(field, fc.array(fc.constantFrom(...BAD_UTF8), { minLength: 1, maxLength: 3 }), fc.uuid())
  .map(([where, pieces, id]) => {
    const bad = Buffer.concat(pieces);
    const value = (name: string, plain: string) =>
      where === name ? Buffer.concat([Buffer.from(plain.slice(0, 2)), bad, Buffer.from(plain.slice(2))]) : Buffer.from(plain);
    const meta =
      where === 'metadata_key'
        ? [Buffer.from('{"'), bad, Buffer.from('":1}')]
        : [Buffer.from('{"note":"'), value('metadata_value', 'hello'), Buffer.from('"}')];
    return Buffer.concat([
      Buffer.from(`{"proposal_id":"`),
      value('proposal_id', id),
      Buffer.from('","actor_from":"'),
      value('actor_from', 'alice'),
      Buffer.from('","actor_to":"'),
      value('actor_to', 'bob'),
      Buffer.from('","resource":"'),
      value('resource', 'water'),
      Buffer.from('","amount":'),
      where === 'amount' ? Buffer.concat([Buffer.from('1'), bad]) : Buffer.from('0.5'),
      Buffer.from(',"metadata":'),
      ...meta,
      Buffer.from('}'),
    ]);
  });

/** An /admin/balance body whose one field carries raw bytes. */
const badBytesAdminBody = fc
  .tuple(fc.constantFrom('actor_id', 'resource', 'amount'), fc.array(fc.constantFrom(...BAD_UTF8), { minLength: 1, maxLength: 3 }))
  .map(([where, pieces]) => {
    const bad = Buffer.concat(pieces);
    const value = (name: string, plain: string) =>
      where === name ? Buffer.concat([Buffer.from(plain.slice(0, 1)), bad, Buffer.from(plain.slice(1))]) : Buffer.from(plain);
    return Buffer.concat([
      Buffer.from('{"actor_id":"'),
      value('actor_id', 'alice'),
      Buffer.from('","resource":"'),
      value('resource', 'water'),
      Buffer.from('","amount":"'),
      value('amount', '75'),
      Buffer.from('"}'),
    ]);
  });

const request = (method: string, path: string, body: Buffer, headers: string[] = []) =>
  Buffer.concat([
    Buffer.from(
      `${method} ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n${headers.map((h) => `${h}\r\n`).join('')}\r\n`,
    ),
    body,
  ]);

/** Framing a parser must refuse: smuggling, bad lengths, bad chunks, bytes where text belongs. */
const FRAMING = [
  'POST /execute HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n0\r\n\r\n',
  'POST /execute HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\nConnection: close\r\n\r\n{}{}{}',
  'POST /execute HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\nConnection: close\r\n\r\n{}',
  'POST /execute HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999\r\nConnection: close\r\n\r\n{}',
  'POST /execute HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\nzz\r\n{}\r\n0\r\n\r\n',
  'POST /execute HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\nConnection: close\r\n\r\n2\r\n{}\r\n0\r\n\r\n',
  'POST /execute HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n2\r\n{}\r\n0\r\n\r\n',
  'GET /world-state\u0000 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
  'GET /world-state HTTP/1.1\r\nHost: x\r\nX-Bad\u0000: 1\r\nConnection: close\r\n\r\n',
  'GET /world-state HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer \u00ff\u00fe\r\nConnection: close\r\n\r\n',
  'GET /admin/audit HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer \u00ff\u00fe\r\nConnection: close\r\n\r\n',
  'GET /world-state HTTP/1.1\r\nHost: x\r\n Folded: header\r\nConnection: close\r\n\r\n',
  'GET /world-state HTTP/9.9\r\nHost: x\r\nConnection: close\r\n\r\n',
  'GET http://evil.example/world-state HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
  'GET /../../etc/passwd HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
  'BREW /execute HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
  `GET /${'a'.repeat(70_000)} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`,
  `GET /world-state HTTP/1.1\r\nHost: x\r\nX-Long: ${'a'.repeat(70_000)}\r\nConnection: close\r\n\r\n`,
  'garbage\r\n\r\n',
  '\u0016\u0003\u0001\u0002\u0000\u0001\u0000\u0001\u00fc\u0003\u0003', // a TLS ClientHello on the plain port
];

async function judgeRaw(label: string, bytes: Buffer): Promise<void> {
  const reply = await raw(bytes);
  const after = await stateDigest(target.db);
  tally.add(label, reply.status);
  const problems: string[] = [];
  if (reply.status >= 500) problems.push(`answered ${reply.status}`);
  if (reply.status >= 400 && reply.status < 500) {
    const admin = /^\S+ \/admin\//.test(bytes.toString('latin1', 0, 100));
    // 403 is FORBIDDEN_ACTOR here (no key is ever sent): a business rejection like a 422.
    const changed = changedParts(
      state,
      after,
      admin ? ['audit', 'authFailures'] : reply.status === 422 || reply.status === 403 ? ['rejections', 'outbox'] : [],
    );
    if (changed.length > 0) problems.push(`a ${reply.status} changed ${changed.join(', ')}`);
  }
  state = after;
  if (problems.length > 0)
    assert.fail(`${label} ${bytes.toString('latin1').slice(0, 300)}\n→ ${reply.text.slice(0, 300)}\n${problems.join('\n')}`);
}

test('proposals carrying invalid UTF-8, NUL and control bytes', async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.oneof(
        badBytesBody.map((b) => ['/execute', b] as const),
        badBytesAdminBody.map((b) => ['/admin/balance', b] as const),
      ),
      async ([path, body]) => {
        const headers = path === '/admin/balance' ? [`Authorization: Bearer ${ADMIN_KEY}`] : [];
        await judgeRaw(`POST ${path}`, request('POST', path, body, headers));
      },
    ),
    { numRuns: runs(260) },
  );
});

test('framing the HTTP parser must refuse, and bytes that are not HTTP', async () => {
  for (const text of FRAMING) await judgeRaw('raw framing', Buffer.from(text, 'latin1'));
  const statuses = tally.counts.get('raw framing')!;
  assert.equal([...statuses.keys()].filter((s) => s >= 500).length, 0);
});

/** Opens GET /events with raw bytes, reads until the hello event (or an answer that is not a stream). */
function openEvents(bytes: Buffer): Promise<{ status: number; text: string }> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    let text = '';
    const done = () => {
      clearTimeout(timer);
      socket.destroy();
      resolve({ status: Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0), text });
    };
    const timer = setTimeout(done, 3_000);
    socket.on('data', (chunk) => {
      text += chunk.toString('latin1');
      if (/event: hello/.test(text) || (/^HTTP\/1\.1 (?!200)/.test(text) && /\r\n\r\n/.test(text))) done();
    });
    socket.on('error', done);
    socket.write(bytes);
  });
}

test('GET /events, the live stream, under odd queries and headers', async () => {
  const query = fc.oneof(
    fc.constant(''),
    fc
      .string({ unit: 'binary', maxLength: 20 })
      .map((q) => `?${[...Buffer.from(q)].map((b) => `%${b.toString(16).padStart(2, '0')}`).join('')}`),
  );
  const header = fc.constantFrom(
    '',
    'Last-Event-ID: 99999999999999999999\r\n',
    'Last-Event-ID: \u00ff\r\n',
    'Accept: text/html\r\n',
    `Authorization: Bearer ${ADMIN_KEY}\r\n`,
    'Authorization: Bearer nope\r\n',
  );
  await fc.assert(
    fc.asyncProperty(query, header, async (q, h) => {
      const reply = await openEvents(Buffer.from(`GET /events${q} HTTP/1.1\r\nHost: 127.0.0.1\r\n${h}\r\n`, 'latin1'));
      tally.add('GET /events', reply.status);
      assert.ok(reply.status > 0 && reply.status < 500, `GET /events${q} ${h} → ${reply.text.slice(0, 200)}`);
    }),
    { numRuns: runs(40) },
  );
});

test('the tally of raw requests', (t) => {
  assert.ok(tally.counts.get('POST /execute')?.get(400), 'some raw bodies were refused as malformed');
  t.diagnostic(`${tally.total} requests`);
  for (const line of tally.lines()) t.diagnostic(line);
});
