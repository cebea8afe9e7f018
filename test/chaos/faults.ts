import { setTimeout as sleep } from 'node:timers/promises';
import type { FakeDiscordMode } from '../support/fake-discord.ts';
import type { FakeLinearMode } from '../support/fake-linear.ts';
import { prng } from '../support/load.ts';
import { ADMIN_KEY, bearer, http } from '../support/validator.ts';
import type { Cluster } from './cluster.ts';
import type { ChaosProfile } from './profile.ts';

/**
 * The fault schedule, TigerBeetle-style: drawn from the seed up front, then played against the
 * load. Faults fire at points of progress (a fraction of the sends settled), so every one lands
 * while proposals are in flight however fast the machine is. Process faults (validator and
 * dispatcher kills) and infrastructure faults (PostgreSQL crashes, connection cuts, the breaker)
 * play on two lanes, so they overlap; Linear and Discord change mode on a clock of their own.
 */

export const FaultKind = {
  validatorKill: 'validator SIGKILL + restart',
  postgresCrash: 'PostgreSQL immediate shutdown + restart',
  proxyCut: 'proxy cut of every DB connection',
  dispatcherKill: 'dispatcher SIGKILL + restart',
  breakerFlip: 'circuit breaker on, then off',
  linearDown: 'Linear down/hanging slots',
  discordDown: 'Discord down/hanging slots',
} as const;
export type FaultKind = (typeof FaultKind)[keyof typeof FaultKind];

interface ScheduledFault {
  kind: FaultKind;
  /** Fraction of sends settled when it fires. */
  at: number;
  /** Validator to kill, or how long a fault lasts (ms), drawn from the seed. */
  target: number;
  downMs: number;
}

export interface FaultLog {
  /** The kinds this schedule plays, in the order the summary lists them. */
  kinds: string[];
  counts: Map<string, number>;
  /** Connections the proxy cuts reset, PostgreSQL's included when it crashed. */
  connectionsCut: number;
  notifierModes: { linear: Map<string, number>; discord: Map<string, number> };
  events: Array<{ at: number; kind: string; detail: string }>;
}

export function planFaults(profile: ChaosProfile): { process: ScheduledFault[]; infra: ScheduledFault[] } {
  const random = prng(profile.seed * 7919 + 17);
  const draw = (kind: FaultKind, count: number, lo: number, hi: number): ScheduledFault[] =>
    Array.from({ length: count }, (_, i) => ({
      kind,
      // Spread evenly over [lo, hi], each jittered within its own stretch.
      at: lo + ((i + random()) * (hi - lo)) / count,
      target: Math.floor(random() * 2),
      downMs: 150 + Math.floor(random() * 900),
    }));
  const byPosition = (a: ScheduledFault, b: ScheduledFault) => a.at - b.at;
  const kills = draw(FaultKind.validatorKill, profile.faults.validatorKills, 0.04, 0.85);
  // Alternate replicas so both are killed, whatever the draw.
  kills.forEach((fault, i) => (fault.target = (i + kills[0]!.target) % 2));
  return {
    process: [...kills, ...draw(FaultKind.dispatcherKill, profile.faults.dispatcherKills, 0.08, 0.8)].sort(byPosition),
    infra: [
      ...draw(FaultKind.postgresCrash, profile.faults.postgresRestarts, 0.1, 0.8),
      ...draw(FaultKind.proxyCut, profile.faults.proxyCuts, 0.03, 0.9),
      ...draw(FaultKind.breakerFlip, profile.faults.breakerFlips, 0.15, 0.75),
    ].sort(byPosition),
  };
}

async function setBreaker(cluster: Cluster, enabled: boolean): Promise<void> {
  // Either replica will do; retry until one answers (the database may be down right now).
  for (let attempt = 0; ; attempt++) {
    const validator = cluster.validators[attempt % cluster.validators.length]!;
    try {
      const reply = await http(
        validator.url,
        'POST',
        '/admin/circuit-breaker',
        { enabled, reason: 'chaos: breaker flip' },
        bearer(ADMIN_KEY),
      );
      if (reply.status === 200) return;
    } catch {
      // replica down: try the other one
    }
    if (attempt > 600) throw new Error(`could not switch the breaker ${enabled ? 'on' : 'off'}`);
    await sleep(100);
  }
}

export function createFaultInjector(cluster: Cluster, profile: ChaosProfile, progress: () => number, log: (line: string) => void) {
  const faults: FaultLog = {
    kinds: Object.values(FaultKind),
    counts: new Map(),
    connectionsCut: 0,
    notifierModes: { linear: new Map(), discord: new Map() },
    events: [],
  };
  const started = Date.now();
  const record = (kind: FaultKind, detail: string) => {
    faults.counts.set(kind, (faults.counts.get(kind) ?? 0) + 1);
    faults.events.push({ at: Date.now() - started, kind, detail });
    log(`fault ${kind}: ${detail}`);
  };
  let stopping = false;

  async function inject(fault: ScheduledFault): Promise<void> {
    switch (fault.kind) {
      case FaultKind.validatorKill: {
        const validator = cluster.validators[fault.target]!;
        const pid = validator.pid;
        await validator.kill('SIGKILL');
        record(fault.kind, `${validator.name} pid ${pid}, down ${fault.downMs} ms`);
        await sleep(fault.downMs);
        await validator.start();
        return;
      }
      case FaultKind.dispatcherKill: {
        const pid = cluster.dispatcher.pid;
        await cluster.dispatcher.kill('SIGKILL');
        record(fault.kind, `pid ${pid}, down ${fault.downMs} ms`);
        await sleep(fault.downMs);
        await cluster.dispatcher.start();
        return;
      }
      case FaultKind.postgresCrash: {
        const postgres = cluster.postgres;
        if (!postgres) throw new Error('a PostgreSQL crash was scheduled on a server this run did not start');
        const pid = await postgres.crash();
        record(fault.kind, `postmaster pid ${pid} (from postmaster.pid), down ${fault.downMs} ms`);
        await sleep(fault.downMs);
        await postgres.start();
        return;
      }
      case FaultKind.proxyCut: {
        const cut = cluster.proxy.cut();
        faults.connectionsCut += cut;
        record(fault.kind, `${cut} connections reset`);
        return;
      }
      case FaultKind.breakerFlip: {
        await setBreaker(cluster, true);
        record(fault.kind, `on for ${fault.downMs} ms`);
        await sleep(fault.downMs);
        await setBreaker(cluster, false);
        return;
      }
      default:
        throw new Error(`not a scheduled fault: ${fault.kind}`);
    }
  }

  async function lane(schedule: ScheduledFault[]): Promise<void> {
    for (const fault of schedule) {
      while (progress() < fault.at && !stopping) await sleep(20);
      await inject(fault);
    }
  }

  /** Half of the slots healthy, half down, hanging, rate limited or (Linear) dropping after create. */
  async function notifiers(): Promise<void> {
    const random = prng(profile.seed * 104729 + 3);
    const linearBad: FakeLinearMode[] = ['fail', 'hang', 'rateLimit', 'dropAfterCreate'];
    const discordBad: FakeDiscordMode[] = ['fail', 'hang', 'rateLimit'];
    while (!stopping) {
      const linearMode: FakeLinearMode = random() < 0.5 ? 'ok' : linearBad[Math.floor(random() * linearBad.length)]!;
      const discordMode: FakeDiscordMode = random() < 0.5 ? 'ok' : discordBad[Math.floor(random() * discordBad.length)]!;
      cluster.linear.setMode(linearMode);
      cluster.discord.setMode(discordMode);
      const { linear, discord } = faults.notifierModes;
      linear.set(linearMode, (linear.get(linearMode) ?? 0) + 1);
      discord.set(discordMode, (discord.get(discordMode) ?? 0) + 1);
      if (linearMode !== 'ok') faults.counts.set(FaultKind.linearDown, (faults.counts.get(FaultKind.linearDown) ?? 0) + 1);
      if (discordMode !== 'ok') faults.counts.set(FaultKind.discordDown, (faults.counts.get(FaultKind.discordDown) ?? 0) + 1);
      await sleep(profile.notifierSlotMs);
    }
    cluster.linear.setMode('ok');
    cluster.discord.setMode('ok');
  }

  const plan = planFaults(profile);
  let running: Promise<unknown> | undefined;
  let failure: unknown;
  return {
    faults,
    plan,
    start(): void {
      // A fault that cannot be undone (a process that will not come back) fails the run at
      // finish(); caught here so that it cannot end the process before the cleanup runs.
      running = Promise.all([lane(plan.process), lane(plan.infra), notifiers()]).catch((error: unknown) => {
        failure = error;
        stopping = true;
        log(`fault schedule failed: ${String(error)}`);
      });
    },
    /**
     * Plays whatever the schedule still holds (the load may outrun a slow lane), stops the
     * notifier clock and restores every target to health.
     */
    async finish(): Promise<void> {
      stopping = true;
      await running;
      if (failure !== undefined)
        throw failure instanceof Error ? failure : new Error(`the fault schedule failed: ${JSON.stringify(failure)}`);
    },
  };
}
