import { setTimeout as sleep } from 'node:timers/promises';
import { formatMicro, parseAmount } from '../../src/domain/money.ts';
import type { Scenario } from '../../src/domain/scenario.ts';

/**
 * The bank test's reader: while transfers run, it reads GET /world-state from either replica, one
 * read after another, and checks each snapshot as a bank auditor would: money is only moved, never
 * made or lost (every resource's supply equals what genesis gave out, and the actors' balances add
 * up to it), no account is negative, and the ledger head never goes backwards (no stale read).
 */
export interface ReadLog {
  reads: number;
  failed: number;
  /** Why reads failed: HTTP status and error code, or the transport error. */
  failures: Map<string, number>;
  violations: string[];
}

function micro(value: unknown): bigint | undefined {
  const parsed = parseAmount(value);
  return parsed.ok ? parsed.value : undefined;
}

/** Each resource's total supply after genesis. */
export function genesisSupply(scenario: Scenario): Map<string, bigint> {
  const supply = new Map<string, bigint>(scenario.resources.map((r) => [r.name, 0n]));
  for (const actor of scenario.actors) {
    for (const [resource, amount] of Object.entries(actor.balances))
      supply.set(resource, (supply.get(resource) ?? 0n) + (micro(amount) ?? 0n));
  }
  return supply;
}

export function checkSnapshot(
  state: { ledger_head?: unknown; supply?: unknown; actors?: unknown },
  expected: Map<string, bigint>,
): string[] {
  const problems: string[] = [];
  const supply = (state.supply ?? {}) as Record<string, unknown>;
  const sums = new Map<string, bigint>();
  for (const actor of (Array.isArray(state.actors) ? state.actors : []) as Array<{ name: string; balances: Record<string, unknown> }>) {
    for (const [resource, amount] of Object.entries(actor.balances ?? {})) {
      const value = micro(amount);
      if (value === undefined) problems.push(`${actor.name} holds an unreadable ${resource} amount ${String(amount)}`);
      else {
        if (value < 0n) problems.push(`${actor.name} holds ${formatMicro(value)} ${resource}`);
        sums.set(resource, (sums.get(resource) ?? 0n) + value);
      }
    }
  }
  for (const [resource, total] of expected) {
    const reported = micro(supply[resource]);
    if (reported !== total) problems.push(`supply of ${resource} is ${String(supply[resource])}, genesis gave out ${formatMicro(total)}`);
    if ((sums.get(resource) ?? 0n) !== total)
      problems.push(`balances of ${resource} add up to ${formatMicro(sums.get(resource) ?? 0n)}, not ${formatMicro(total)}`);
  }
  return problems;
}

async function read(replica: string): Promise<{ status: number; body: unknown }> {
  const response = await fetch(`${replica}/world-state`, { signal: AbortSignal.timeout(10_000) });
  const text = await response.text();
  try {
    return { status: response.status, body: JSON.parse(text) };
  } catch {
    return { status: response.status, body: text };
  }
}

export function startReader(replicas: string[], expected: Map<string, bigint>, intervalMs = 100) {
  const log: ReadLog = { reads: 0, failed: 0, failures: new Map(), violations: [] };
  let stopping = false;
  let head = 0;
  const loop = (async () => {
    for (let i = 0; !stopping; i++) {
      const reply = await read(replicas[i % replicas.length]!).catch((error: Error) => ({
        status: 0,
        body: { error_code: (error.cause as { code?: string } | undefined)?.code ?? error.name },
      }));
      if (reply.status !== 200) {
        log.failed++;
        const why = `${reply.status || 'no answer'} ${(reply.body as { error_code?: string } | undefined)?.error_code ?? ''}`.trim();
        log.failures.set(why, (log.failures.get(why) ?? 0) + 1);
        if (reply.status !== 0 && reply.status !== 503) log.violations.push(`read: GET /world-state answered ${reply.status}`);
      } else {
        log.reads++;
        const state = reply.body as { ledger_head?: unknown };
        for (const problem of checkSnapshot(state, expected))
          log.violations.push(`read at ledger ${String(state.ledger_head)}: ${problem}`);
        const seen = Number(state.ledger_head);
        if (seen < head) log.violations.push(`read: ledger head went back from ${head} to ${seen}`);
        head = Math.max(head, seen);
      }
      await sleep(intervalMs);
    }
  })();
  return {
    log,
    async stop(): Promise<ReadLog> {
      stopping = true;
      await loop;
      return log;
    },
  };
}
