/**
 * How hard a chaos run pushes: the full profile is the bank test of issue #8 (50,000 proposals,
 * every fault several times); the short one is what CI runs in a couple of minutes. Individual
 * numbers can be overridden from the environment (CHAOS_PROPOSALS, CHAOS_CLIENTS, CHAOS_SEED,
 * CHAOS_TIMEOUT_MS).
 */
export interface ChaosProfile {
  name: 'full' | 'short';
  proposals: number;
  clients: number;
  seed: number;
  faults: {
    validatorKills: number;
    postgresRestarts: number;
    proxyCuts: number;
    dispatcherKills: number;
    breakerFlips: number;
  };
  /** Linear and Discord switch mode this often; half of the slots are down, hanging or limited. */
  notifierSlotMs: number;
  /** Longest a client keeps retrying one proposal before calling it unresolved. */
  sendDeadlineMs: number;
  /** Longest the outbox may take to drain once everything is restored. */
  drainTimeoutMs: number;
  /** The whole run, startup to cleanup; past it everything is killed and the run fails. */
  hardTimeoutMs: number;
}

const PROFILES: Record<ChaosProfile['name'], Omit<ChaosProfile, 'seed'>> = {
  full: {
    name: 'full',
    proposals: 50_000,
    clients: 32,
    faults: { validatorKills: 5, postgresRestarts: 3, proxyCuts: 10, dispatcherKills: 3, breakerFlips: 2 },
    notifierSlotMs: 1_500,
    sendDeadlineMs: 120_000,
    drainTimeoutMs: 180_000,
    hardTimeoutMs: 25 * 60_000,
  },
  short: {
    name: 'short',
    proposals: 8_000,
    clients: 32,
    faults: { validatorKills: 3, postgresRestarts: 2, proxyCuts: 5, dispatcherKills: 2, breakerFlips: 1 },
    notifierSlotMs: 1_000,
    sendDeadlineMs: 60_000,
    drainTimeoutMs: 60_000,
    hardTimeoutMs: 5 * 60_000,
  },
};

function positiveInteger(name: string, raw: string | undefined, fallback: number): number {
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1) throw new Error(`${name} must be a positive integer, got "${raw}"`);
  return value;
}

export function chaosProfile(env: NodeJS.ProcessEnv = process.env): ChaosProfile {
  const name = env.CHAOS_PROFILE ?? 'full';
  if (name !== 'full' && name !== 'short') throw new Error(`CHAOS_PROFILE must be full or short, got "${name}"`);
  const base = PROFILES[name];
  return {
    ...base,
    proposals: positiveInteger('CHAOS_PROPOSALS', env.CHAOS_PROPOSALS, base.proposals),
    clients: positiveInteger('CHAOS_CLIENTS', env.CHAOS_CLIENTS, base.clients),
    seed: positiveInteger('CHAOS_SEED', env.CHAOS_SEED, 1),
    hardTimeoutMs: positiveInteger('CHAOS_TIMEOUT_MS', env.CHAOS_TIMEOUT_MS, base.hardTimeoutMs),
  };
}
