import { randomUUID } from 'node:crypto';
import { http, type HttpReply } from './validator.ts';

export interface SentProposal {
  body: Record<string, unknown>;
  legs: number;
}

export interface LoadResult {
  sent: Array<{ proposal: SentProposal; reply: HttpReply | { status: 0; body: { error: string } } }>;
}

/** A deterministic pseudo-random generator, so a failing load run can be repeated. */
export function prng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Proposals among a few actors: transfers and swaps, some too large (rejections), with earlier
 * ids sent again (duplicate retries) and reused with another amount (conflicts).
 */
export function makeProposals(count: number, actors: string[], resources: string[], seed = 1): SentProposal[] {
  const random = prng(seed);
  const pick = <T>(items: T[]) => items[Math.floor(random() * items.length)]!;
  const out: SentProposal[] = [];
  for (let i = 0; i < count; i++) {
    const roll = random();
    if (out.length > 10 && roll < 0.15) {
      out.push(pick(out)); // duplicate retry: same id, same payload
      continue;
    }
    if (out.length > 10 && roll < 0.2) {
      const original = pick(out);
      out.push({
        body: { ...original.body, metadata: { conflict: true }, ...(original.body.legs ? { legs: [] } : { amount: 0.5 }) },
        legs: 0,
      });
      const last = out[out.length - 1]!;
      if (original.body.legs) last.body.legs = [{ actor_from: actors[0], actor_to: actors[1], resource: resources[0], amount: 0.25 }];
      continue;
    }
    const from = pick(actors);
    const to = pick(actors.filter((a) => a !== from));
    const amount = Number((random() < 0.1 ? 45 + random() * 10 : 0.5 + random() * 12).toFixed(3));
    if (roll < 0.55) {
      out.push({ body: { proposal_id: randomUUID(), actor_from: from, actor_to: to, resource: pick(resources), amount }, legs: 1 });
    } else {
      const [r1, r2] = random() < 0.5 ? [resources[0]!, resources[1]!] : [resources[1]!, resources[0]!];
      out.push({
        body: {
          proposal_id: randomUUID(),
          legs: [
            { actor_from: from, actor_to: to, resource: r1, amount },
            { actor_from: to, actor_to: from, resource: r2, amount: Number((amount * (0.5 + random())).toFixed(2)) },
          ],
        },
        legs: 2,
      });
    }
  }
  return out;
}

/** Sends the proposals from `clients` concurrent workers until done or `stopAt` (epoch ms). */
export async function runLoad(url: string, proposals: SentProposal[], clients: number, stopAt = Infinity): Promise<LoadResult> {
  const sent: LoadResult['sent'] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: clients }, async () => {
      while (next < proposals.length && Date.now() < stopAt) {
        const proposal = proposals[next++]!;
        try {
          sent.push({ proposal, reply: await http(url, 'POST', '/execute', proposal.body) });
        } catch (error) {
          sent.push({ proposal, reply: { status: 0, body: { error: String(error) } } });
        }
      }
    }),
  );
  return { sent };
}
