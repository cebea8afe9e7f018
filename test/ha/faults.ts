import { setTimeout as sleep } from 'node:timers/promises';
import type { FaultInjector } from '../chaos/bank.ts';
import type { FaultLog } from '../chaos/faults.ts';
import type { ChaosProfile } from '../chaos/profile.ts';
import type { HaCluster } from './cluster.ts';
import type { Topology } from './topology.ts';

/**
 * The four failovers, in order, each at a point of the load's progress so that every one lands
 * while proposals are in flight: kill -9 of the leader's postmaster (Patroni, still holding the
 * leader key, restarts it in place after crash recovery); Patroni stopped on the leader (it stops
 * PostgreSQL and releases the key, the synchronous standby takes over); a planned switchover to
 * the remaining replica; and the node stopped earlier started again, rejoining as a replica. The
 * next fault waits until Patroni reports the cluster healthy and HAProxy routes to its leader.
 */
export const HaFault = {
  postmasterKill: "kill -9 of the leader's postmaster",
  patroniStop: 'Patroni stopped on the leader',
  switchover: 'planned switchover (Patroni REST API)',
  rejoin: 'the old leader rejoins as a replica',
} as const;
export type HaFault = (typeof HaFault)[keyof typeof HaFault];

export interface FailoverEvent {
  kind: HaFault;
  /** When the fault was injected, and when Patroni and HAProxy agreed on a healthy leader again (ms since epoch). */
  at: number;
  healedAt: number;
  leaderBefore: string;
  leaderAfter: string;
}

const SCHEDULE: Array<{ kind: HaFault; at: number }> = [
  { kind: HaFault.postmasterKill, at: 0.15 },
  { kind: HaFault.patroniStop, at: 0.35 },
  { kind: HaFault.switchover, at: 0.55 },
  { kind: HaFault.rejoin, at: 0.75 },
];

export function createHaInjector(
  cluster: HaCluster,
  _profile: ChaosProfile,
  progress: () => number,
  log: (line: string) => void,
): FaultInjector & { failovers: FailoverEvent[] } {
  const topology: Topology = cluster.topology;
  const faults: FaultLog = {
    kinds: Object.values(HaFault),
    counts: new Map(),
    connectionsCut: 0,
    notifierModes: { linear: new Map(), discord: new Map() },
    events: [],
  };
  const failovers: FailoverEvent[] = [];
  const started = Date.now();
  let stopping = false;
  let stopped: Topology['nodes'][number] | undefined;

  async function inject(kind: HaFault): Promise<void> {
    const leader = await topology.leader();
    const at = Date.now();
    let detail: string;
    let replicas = 2;
    switch (kind) {
      case HaFault.postmasterKill:
        detail = `${leader.name} postmaster pid ${await topology.killPostmaster(leader)}`;
        break;
      case HaFault.patroniStop:
        detail = `${leader.name} patroni pid ${await topology.stopPatroni(leader)}`;
        stopped = leader;
        replicas = 1;
        break;
      case HaFault.switchover: {
        const running = await topology.members();
        const candidate = topology.nodes.find((n) => n !== leader && running.some((m) => m.name === n.name && m.state === 'running'));
        if (!candidate) throw new Error('no running replica to switch over to');
        await topology.switchover(leader, candidate);
        detail = `${leader.name} → ${candidate.name}`;
        replicas = stopped ? 1 : 2;
        break;
      }
      case HaFault.rejoin: {
        if (!stopped) throw new Error('no stopped node to rejoin');
        topology.startPatroni(stopped);
        detail = `${stopped.name} started again under leader ${leader.name}`;
        stopped = undefined;
        break;
      }
    }
    faults.counts.set(kind, (faults.counts.get(kind) ?? 0) + 1);
    faults.events.push({ at: at - started, kind, detail });
    log(`fault ${kind}: ${detail}`);
    await topology.waitHealthy(replicas);
    const after = await topology.leader();
    failovers.push({ kind, at, healedAt: Date.now(), leaderBefore: leader.name, leaderAfter: after.name });
    log(`healthy again after ${((Date.now() - at) / 1000).toFixed(1)} s: leader ${after.name}`);
  }

  let running: Promise<void> | undefined;
  let failure: unknown;
  let played = 0;
  return {
    faults,
    failovers,
    /**
     * Past 85% of the load with faults still to play, each client sends at most one proposal a
     * second: the load trickles on, so every failover still lands on proposals in flight.
     */
    async pace() {
      if (played < SCHEDULE.length && !stopping && progress() >= 0.85) await sleep(1_000);
    },
    start() {
      running = (async () => {
        for (const step of SCHEDULE) {
          while (progress() < step.at && !stopping) await sleep(20);
          await inject(step.kind);
          played++;
        }
      })().catch((error: unknown) => {
        failure = error;
        log(`fault schedule failed: ${String(error)}`);
      });
    },
    async finish() {
      stopping = true;
      await running;
      if (failure !== undefined) throw failure instanceof Error ? failure : new Error(JSON.stringify(failure));
    },
  };
}
