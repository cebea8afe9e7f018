/**
 * A closed-loop HTTP load generator, run as its own process so it does not share the validator's
 * event loop: `clients` keep-alive connections, each sending its next proposal when the previous
 * answer arrives, for `durationMs`. Prints one JSON line of results.
 *
 *   node --import tsx bench/loadgen.ts URL CLIENTS DURATION_MS ACTORS [batch]
 */
import { randomUUID } from 'node:crypto';
import { Agent, request } from 'node:http';

const [url, clientsArg, durationArg, actorsArg, mode] = process.argv.slice(2);
const clients = Number(clientsArg);
const durationMs = Number(durationArg);
const actors = Number(actorsArg);
const batchSize = mode === 'batch' ? 100 : 0;
const target = new URL(url!);
const agent = new Agent({ keepAlive: true, maxSockets: clients });

let seed = 12345;
const random = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
const actor = (i: number) => `bench-${i}`;

/** Transfers and swaps; about one in ten breaks max_transfer and is rejected. */
function proposal(): Record<string, unknown> {
  const a = Math.floor(random() * actors);
  let b = Math.floor(random() * actors);
  if (b === a) b = (a + 1) % actors;
  const amount = random() < 0.1 ? 75 : Number((1 + random() * 9).toFixed(2));
  if (random() < 0.6) return { proposal_id: randomUUID(), actor_from: actor(a), actor_to: actor(b), resource: 'energy', amount };
  return {
    proposal_id: randomUUID(),
    legs: [
      { actor_from: actor(a), actor_to: actor(b), resource: 'energy', amount },
      { actor_from: actor(b), actor_to: actor(a), resource: 'water', amount: Number((amount / 2).toFixed(2)) },
    ],
  };
}

function post(path: string, body: unknown): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const payload = JSON.stringify(body);
    const req = request(
      { host: target.hostname, port: target.port, path, method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) } },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (text += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

const latencies: number[] = [];
const statuses: Record<string, number> = {};
let trades = 0;
const deadline = Date.now() + durationMs;
const started = process.hrtime.bigint();

await Promise.all(
  Array.from({ length: clients }, async () => {
    while (Date.now() < deadline) {
      const t0 = process.hrtime.bigint();
      let outcome: string;
      if (batchSize) {
        const reply = await post('/execute/batch', { proposals: Array.from({ length: batchSize }, proposal) });
        outcome = String(reply.status);
        if (reply.status === 200) {
          for (const r of (JSON.parse(reply.text) as { results: Array<{ status: string }> }).results) {
            statuses[r.status] = (statuses[r.status] ?? 0) + 1;
            if (r.status === 'applied') trades++;
          }
        }
      } else {
        const reply = await post('/execute', proposal());
        outcome = String(reply.status);
        if (reply.status === 200) trades++;
      }
      latencies.push(Number(process.hrtime.bigint() - t0) / 1e6);
      statuses[`http_${outcome}`] = (statuses[`http_${outcome}`] ?? 0) + 1;
    }
  }),
);

const seconds = Number(process.hrtime.bigint() - started) / 1e9;
latencies.sort((x, y) => x - y);
const pct = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor((p / 100) * latencies.length))] ?? 0;
console.log(
  JSON.stringify({
    requests: latencies.length,
    requests_per_s: latencies.length / seconds,
    applied_per_s: trades / seconds,
    proposals_per_s: (batchSize ? latencies.length * batchSize : latencies.length) / seconds,
    p50_ms: pct(50),
    p99_ms: pct(99),
    statuses,
  }),
);
agent.destroy();
