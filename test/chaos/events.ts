import { setTimeout as sleep } from 'node:timers/promises';

/**
 * A dashboard's view of the run: one GET /events stream per replica, reopened whenever it drops
 * (a killed validator), counting what arrives. After the faults, a probe trade sent to one replica
 * must show up on every replica's stream: each one's LISTEN connection came back after PostgreSQL
 * crashes and connection cuts, so every replica still sees every write.
 */
export interface EventStreamLog {
  replica: string;
  events: Map<string, number>;
  /** Streams opened (1 + reconnections after the stream dropped). */
  streams: number;
  proposalIds: Set<string>;
}

function parseBlock(block: string): { event: string; data: unknown } | undefined {
  let event = 'message';
  let data = '';
  for (const line of block.split('\n')) {
    if (line.startsWith('event: ')) event = line.slice(7);
    else if (line.startsWith('data: ')) data += line.slice(6);
  }
  if (!data) return undefined;
  try {
    return { event, data: JSON.parse(data) };
  } catch {
    return { event, data: undefined };
  }
}

export function watchEvents(replicas: string[]) {
  const stop = new AbortController();
  const logs: EventStreamLog[] = replicas.map((replica) => ({ replica, events: new Map(), streams: 0, proposalIds: new Set() }));

  async function follow(log: EventStreamLog): Promise<void> {
    while (!stop.signal.aborted) {
      try {
        const response = await fetch(`${log.replica}/events`, { signal: stop.signal });
        if (response.status !== 200 || !response.body) throw new Error(`HTTP ${response.status}`);
        log.streams++;
        const decoder = new TextDecoder();
        let buffer = '';
        for await (const chunk of response.body as AsyncIterable<Uint8Array>) {
          buffer += decoder.decode(chunk, { stream: true });
          let end: number;
          while ((end = buffer.indexOf('\n\n')) >= 0) {
            const parsed = parseBlock(buffer.slice(0, end));
            buffer = buffer.slice(end + 2);
            if (!parsed) continue;
            log.events.set(parsed.event, (log.events.get(parsed.event) ?? 0) + 1);
            const ids = (parsed.data as { proposal_ids?: unknown } | undefined)?.proposal_ids;
            if (Array.isArray(ids)) for (const id of ids) log.proposalIds.add(String(id));
          }
        }
      } catch {
        // dropped (validator killed, restarting): open it again
      }
      if (!stop.signal.aborted) await sleep(200);
    }
  }

  const following = Promise.all(logs.map(follow));
  return {
    logs,
    /** Waits until every stream has shown the proposal id; returns the replicas that did not. */
    async awaitProposal(proposalId: string, timeoutMs: number): Promise<string[]> {
      const deadline = Date.now() + timeoutMs;
      while (Date.now() < deadline && logs.some((log) => !log.proposalIds.has(proposalId))) await sleep(50);
      return logs.filter((log) => !log.proposalIds.has(proposalId)).map((log) => log.replica);
    },
    async stop(): Promise<EventStreamLog[]> {
      stop.abort();
      await following;
      return logs;
    },
  };
}
