import { randomUUID } from 'node:crypto';
import type { Db } from '../../src/db/db.ts';
import { peakRssMiB, startValidatorProcess } from '../support.ts';
import { summarise } from './stats.ts';

async function get(url: string): Promise<{ status: number; ms: number; body: any }> {
  const started = performance.now();
  const response = await fetch(url);
  const body = await response.json();
  return { status: response.status, ms: performance.now() - started, body };
}

async function until(url: string, accept: (status: number) => boolean, timeoutMs: number): Promise<number> {
  const started = performance.now();
  for (;;) {
    const reply = await get(url);
    if (accept(reply.status)) return Math.round(performance.now() - started);
    if (performance.now() - started > timeoutMs) throw new Error(`no change within ${timeoutMs} ms: ${JSON.stringify(reply.body)}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/**
 * The validator as deployed (its own process, ledger guard on, clients over loopback HTTP):
 * /health latency idle and under a trading load, how long a corrupted balance takes to show in
 * /health, /world-state?at= latency at random points of the ledger, and its peak memory.
 */
export async function measureValidator(
  db: Db,
  options: {
    databaseUrl: string;
    head: number;
    actors: string[];
    healthRequests: number;
    loadSeconds: number;
    log: (line: string) => void;
  },
) {
  const validator = await startValidatorProcess(options.databaseUrl, {
    GRIDGOV_VALIDATOR_VERSION: 'bench',
    GRIDGOV_CHECKPOINT_EVERY: '100000',
  });
  const base = validator.url;
  try {
    options.log('validator up; waiting for a healthy verdict');
    const firstVerdictMs = await until(`${base}/health`, (s) => s === 200, 120_000);
    for (let i = 0; i < 100; i++) await get(`${base}/health`);

    const idle: number[] = [];
    for (let i = 0; i < options.healthRequests; i++) idle.push((await get(`${base}/health`)).ms);
    options.log(`/health idle: ${JSON.stringify(summarise(idle))}`);

    let seed = 12345;
    const random = () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
    const at: number[] = [];
    for (let i = 0; i < 100; i++) at.push((await get(`${base}/world-state?at=${1 + Math.floor(random() * options.head)}`)).ms);
    options.log(`/world-state?at=: ${JSON.stringify(summarise(at))}`);

    // A balance row changed behind the ledger's back, then put back.
    const row = "actor_id = (SELECT id FROM actors WHERE name = 'actor-00007') AND resource = 'water'";
    await db.query(`UPDATE balances SET amount = amount + 1 WHERE ${row}`);
    const detectMs = await until(`${base}/health`, (s) => s === 503, 10_000);
    await db.query(`UPDATE balances SET amount = amount - 1 WHERE ${row}`);
    const recoverMs = await until(`${base}/health`, (s) => s === 200, 10_000);
    options.log(`drift shown after ${detectMs} ms, cleared after ${recoverMs} ms`);

    // /health while 8 clients trade as fast as they can.
    const stopAt = Date.now() + options.loadSeconds * 1000;
    let trades = 0;
    const traders = Array.from({ length: 8 }, async () => {
      while (Date.now() < stopAt) {
        const from = options.actors[Math.floor(random() * options.actors.length)]!;
        let to = options.actors[Math.floor(random() * options.actors.length)]!;
        if (to === from) to = options.actors[(options.actors.indexOf(from) + 1) % options.actors.length]!;
        const response = await fetch(`${base}/execute`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({
            proposal_id: randomUUID(),
            actor_from: from,
            actor_to: to,
            resource: 'energy',
            amount: 1 + Math.floor(random() * 9),
          }),
        });
        await response.arrayBuffer();
        if (response.status === 200) trades++;
      }
    });
    // /livez touches no database: under the same load it shows what the host alone adds.
    const loaded: number[] = [];
    const livez: number[] = [];
    while (Date.now() < stopAt) {
      loaded.push((await get(`${base}/health`)).ms);
      livez.push((await get(`${base}/livez`)).ms);
      await new Promise((r) => setTimeout(r, 5));
    }
    await Promise.all(traders);
    const settleMs = await until(`${base}/health`, (s) => s === 200, 30_000);
    options.log(`/health under load: ${JSON.stringify(summarise(loaded))}, /livez ${JSON.stringify(summarise(livez))}, ${trades} trades`);
    const { rows } = await db.query<{ duration_ms: number; tail_entries: number }>('SELECT duration_ms, tail_entries FROM verifier_status');
    return {
      firstVerdictMs,
      healthIdleMs: summarise(idle),
      healthUnderLoadMs: summarise(loaded),
      livezUnderLoadMs: summarise(livez),
      tradesPerSecond: Math.round(trades / options.loadSeconds),
      worldStateAtMs: summarise(at),
      driftDetectedMs: detectMs,
      driftClearedMs: recoverMs,
      lastVerifierTick: rows[0],
      healthyAgainAfterLoadMs: settleMs,
      validatorPeakRssMb: peakRssMiB(validator.pid),
    };
  } finally {
    await validator.stop();
  }
}
