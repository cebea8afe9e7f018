/**
 * What an agent remembers between epochs: its own recent rejections (code and reason), deals,
 * deficits and extraction, its last reflection, and the resources it is backing off from. Plain
 * JSON, carried from epoch to epoch in the run's stats so a resumed run remembers the same.
 */

export interface RememberedQuantity {
  resource: string;
  amount: number;
}

export interface RememberedRejection {
  epoch: number;
  code: string;
  reason: string;
  counterparty?: string;
  give?: RememberedQuantity;
  get?: RememberedQuantity;
}

export interface AgentMemory {
  rejections: RememberedRejection[];
  deals: Array<{ epoch: number; counterparty: string; gave: RememberedQuantity; got: RememberedQuantity; rounds: number }>;
  deficits: Array<{ epoch: number; resource: string; unmet: number }>;
  extraction: Array<{ epoch: number; resource: string; requested: number; granted: number }>;
  reflection?: { epoch: number; text: string };
  /** Resource -> the last epoch in which the agent makes no new offer for it. */
  backoff: Record<string, number>;
}

/** How many of each kind of memory an agent keeps. */
export const MEMORY_DEPTH = 5;
/** Rejections for one resource within this many epochs that make an agent back off. */
const BACKOFF_AFTER = 3;
const BACKOFF_EPOCHS = 2;

export const emptyMemory = (): AgentMemory => ({ rejections: [], deals: [], deficits: [], extraction: [], backoff: {} });

const keep = <T>(list: readonly T[], more: readonly T[]): T[] => [...list, ...more].slice(-MEMORY_DEPTH);

export interface EpochExperience {
  epoch: number;
  rejections: RememberedRejection[];
  deals: AgentMemory['deals'];
  deficits: AgentMemory['deficits'];
  extraction: AgentMemory['extraction'];
  reflection?: string;
}

/** The memory after an epoch: the newest of each kind kept, and a back-off for a resource rejected again and again. */
export function remember(memory: AgentMemory, seen: EpochExperience): AgentMemory {
  const rejections = keep(memory.rejections, seen.rejections);
  const backoff = Object.fromEntries(Object.entries(memory.backoff).filter(([, until]) => until >= seen.epoch));
  for (const rejection of seen.rejections) {
    const resource = rejection.get?.resource;
    if (!resource) continue;
    const recent = rejections.filter((r) => r.get?.resource === resource && r.epoch > seen.epoch - BACKOFF_AFTER).length;
    if (recent >= BACKOFF_AFTER) backoff[resource] = seen.epoch + BACKOFF_EPOCHS;
  }
  return {
    rejections,
    deals: keep(memory.deals, seen.deals),
    deficits: keep(memory.deficits, seen.deficits),
    extraction: keep(memory.extraction, seen.extraction),
    ...(seen.reflection
      ? { reflection: { epoch: seen.epoch, text: seen.reflection } }
      : memory.reflection
        ? { reflection: memory.reflection }
        : {}),
    backoff,
  };
}

/** The rejections of the epoch just before `epoch`: what an agent must not send again as it was. */
export const justRejected = (memory: AgentMemory | undefined, epoch: number): RememberedRejection[] =>
  (memory?.rejections ?? []).filter((r) => r.epoch === epoch - 1);

/** Whether the agent is backing off from offers for a resource this epoch. */
export const backingOff = (memory: AgentMemory | undefined, resource: string, epoch: number): boolean =>
  (memory?.backoff[resource] ?? 0) >= epoch;
