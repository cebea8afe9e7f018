import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, chownSync, closeSync, existsSync, mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort, isAlive, runAs, waitForExit } from '../../src/db/embedded.ts';
import { stockBinDir } from '../support/stock-postgres.ts';
import { live } from '../chaos/processes.ts';
import { haproxyConfig, patroniConfig } from './configs.ts';

/**
 * The high-availability topology on loopback: one etcd member, three PostgreSQL nodes each run
 * by its own Patroni (as the postgres user), and HAProxy in front with a write frontend that
 * reaches the leader and a read frontend that reaches the replicas, both chosen by Patroni's REST
 * health checks. Every process is started and stopped by its PID; the ports are free ones and
 * everything lives in one folder.
 *
 * One etcd member: on one machine, three members would add no failure independence (they share
 * the host, its disk and its clock) while tripling the load; what is under test is PostgreSQL's
 * failover, which Patroni drives through whatever DCS it has. Production runs three or five
 * members on separate hosts (docs/deployment.md).
 */

export const NODES = ['node1', 'node2', 'node3'] as const;
export type NodeName = (typeof NODES)[number];

export interface Member {
  name: string;
  role: string;
  state: string;
  host: string;
  port: number;
  timeline?: number;
  lag?: number | string;
}

interface NodeProcess {
  name: NodeName;
  pgPort: number;
  restPort: number;
  dir: string;
  config: string;
  child: ChildProcess | undefined;
}

export interface Topology {
  dir: string;
  /** Superuser URLs: through HAProxy's write frontend (the leader), its read frontend (a replica). */
  writeUrl: string;
  readUrl: string;
  superuserPassword: string;
  nodes: NodeProcess[];
  members(): Promise<Member[]>;
  leader(): Promise<NodeProcess>;
  /** Waits until one leader runs and the other `replicas` stream from it, one of them synchronous. */
  waitHealthy(replicas?: number, timeoutMs?: number): Promise<Member[]>;
  /** kill -9 of the node's postmaster (PID from postmaster.pid); Patroni is left running. */
  killPostmaster(node: NodeProcess): Promise<number>;
  /** SIGTERM to the node's Patroni, which stops its PostgreSQL and gives up the leader key. */
  stopPatroni(node: NodeProcess): Promise<number>;
  startPatroni(node: NodeProcess): void;
  /** A planned switchover from the leader to `candidate` through Patroni's REST API. */
  switchover(leader: NodeProcess, candidate: NodeProcess): Promise<void>;
  stop(): Promise<void>;
}

function spawnLogged(
  command: string,
  args: string[],
  logFile: string,
  options: { uid?: number; gid?: number; cwd?: string } = {},
): ChildProcess {
  const log = openSync(logFile, 'a');
  const child = spawn(command, args, { ...options, stdio: ['ignore', log, log] });
  closeSync(log);
  if (child.pid) live.add(child.pid);
  child.once('exit', () => child.pid && live.delete(child.pid));
  return child;
}

async function stopChild(child: ChildProcess | undefined, signal: NodeJS.Signals = 'SIGTERM', timeoutMs = 30_000): Promise<void> {
  const pid = child?.pid;
  if (!child || pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill(signal);
  const done = await Promise.race([exited.then(() => true), sleep(timeoutMs).then(() => false)]);
  if (!done) {
    child.kill('SIGKILL');
    await exited;
  }
}

async function getJson<T>(url: string, timeoutMs = 2_000): Promise<{ status: number; body: T | undefined }> {
  const response = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
  const text = await response.text();
  try {
    return { status: response.status, body: JSON.parse(text) as T };
  } catch {
    return { status: response.status, body: undefined };
  }
}

/** Which Debian package provides each program the topology needs. */
export const PACKAGES: Record<string, string> = { etcd: 'etcd-server', patroni: 'patroni', haproxy: 'haproxy' };

function which(program: string): string | undefined {
  try {
    return execFileSync('sh', ['-c', `command -v ${program}`], { encoding: 'utf8' }).trim() || undefined;
  } catch {
    return undefined;
  }
}

/** The programs that are missing, as package names (apt-get install them). */
export function missingPackages(): string[] {
  const missing = Object.entries(PACKAGES)
    .filter(([program]) => !which(program))
    .map(([, pkg]) => pkg);
  if (!stockBinDir()) missing.push('postgresql');
  return missing;
}

async function waitFor<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline)
      throw new Error(`gave up waiting for ${what}${last ? `: ${last instanceof Error ? last.message : JSON.stringify(last)}` : ''}`);
    await sleep(250);
  }
}

export async function startTopology(dir: string, log: (line: string) => void): Promise<Topology> {
  const bin = stockBinDir();
  if (!bin) throw new Error("Debian's postgresql package is not installed: apt-get install postgresql");
  const owner = runAs();
  chmodSync(dir, 0o711);
  const secrets = {
    superuser: randomBytes(18).toString('base64url'),
    replication: randomBytes(18).toString('base64url'),
    rewind: randomBytes(18).toString('base64url'),
  };
  const scope = `gridgov-${randomBytes(4).toString('hex')}`;
  const started: Array<() => Promise<void>> = [];
  const stop = async () => {
    for (const stopOne of started.reverse()) await stopOne().catch((error: unknown) => log(`teardown: ${String(error)}`));
  };
  try {
    const etcdPort = await freePort();
    const etcdPeer = await freePort();
    const etcdDir = join(dir, 'etcd');
    mkdirSync(etcdDir, { mode: 0o700 });
    const etcd = spawnLogged(
      'etcd',
      [
        '--name=ha',
        `--data-dir=${etcdDir}`,
        `--listen-client-urls=http://127.0.0.1:${etcdPort}`,
        `--advertise-client-urls=http://127.0.0.1:${etcdPort}`,
        `--listen-peer-urls=http://127.0.0.1:${etcdPeer}`,
        `--initial-advertise-peer-urls=http://127.0.0.1:${etcdPeer}`,
        `--initial-cluster=ha=http://127.0.0.1:${etcdPeer}`,
        '--initial-cluster-state=new',
      ],
      join(dir, 'etcd.log'),
    );
    started.push(() => stopChild(etcd));
    await waitFor('etcd', 30_000, async () => ((await getJson(`http://127.0.0.1:${etcdPort}/health`)).status === 200 ? true : undefined));

    const nodes: NodeProcess[] = [];
    for (const name of NODES) {
      const nodeDir = join(dir, name);
      mkdirSync(nodeDir, { mode: 0o700 });
      if (owner) chownSync(nodeDir, owner.uid, owner.gid);
      const node: NodeProcess = { name, pgPort: await freePort(), restPort: await freePort(), dir: nodeDir, config: '', child: undefined };
      node.config = join(dir, `${name}.yml`);
      writeFileSync(node.config, patroniConfig(node, etcdPort, bin, secrets, scope), { mode: 0o600 });
      if (owner) chownSync(node.config, owner.uid, owner.gid);
      nodes.push(node);
    }

    const startPatroni = (node: NodeProcess) => {
      if (node.child && node.child.exitCode === null && node.child.signalCode === null) return;
      const logFile = join(dir, `${node.name}.log`);
      if (owner && !existsSync(logFile)) {
        writeFileSync(logFile, '');
        chownSync(logFile, owner.uid, owner.gid);
      }
      node.child = spawnLogged('patroni', [node.config], logFile, { ...(owner ?? {}), cwd: node.dir });
    };
    for (const node of nodes) {
      started.push(async () => {
        await stopChild(node.child, 'SIGTERM', 60_000);
        // A postmaster Patroni left behind (it was killed while PostgreSQL ran) is ended too.
        const pid = postmasterPid(node);
        if (pid && isAlive(pid)) {
          process.kill(pid, 'SIGQUIT');
          await waitForExit(pid, 10_000);
        }
      });
    }

    const members = async (): Promise<Member[]> => {
      for (const node of nodes) {
        try {
          const reply = await getJson<{ members: Member[] }>(`http://127.0.0.1:${node.restPort}/cluster`);
          if (reply.status === 200 && reply.body) return reply.body.members;
        } catch {
          // that node's REST API is down: ask the next
        }
      }
      return [];
    };
    const leader = async (): Promise<NodeProcess> =>
      waitFor('a leader', 120_000, async () => {
        const found = (await members()).find((m) => m.role === 'leader' && m.state === 'running');
        return found ? nodes.find((n) => n.name === found.name) : undefined;
      });
    const waitHealthy = (replicas = 2, timeoutMs = 180_000) =>
      waitFor(`a leader and ${replicas} streaming replicas`, timeoutMs, async () => {
        const all = await members();
        const lead = all.filter((m) => m.role === 'leader' && m.state === 'running');
        const streaming = all.filter((m) => (m.role === 'sync_standby' || m.role === 'replica') && m.state === 'running');
        const sync = all.some((m) => m.role === 'sync_standby' && m.state === 'running');
        if (lead.length !== 1 || streaming.length < replicas || !sync) return undefined;
        // HAProxy must route writes to that leader before the topology counts as healthy.
        return (await leaderBehindProxy()) === lead[0]!.port ? all : undefined;
      });

    // The first node bootstraps the cluster; the others clone it once it leads.
    startPatroni(nodes[0]!);
    await leader();
    for (const node of nodes.slice(1)) startPatroni(node);

    const writePort = await freePort();
    const readPort = await freePort();
    const haproxyFile = join(dir, 'haproxy.cfg');
    writeFileSync(haproxyFile, haproxyConfig(writePort, readPort, nodes));
    // -db: stay in the foreground, so that the PID is HAProxy's own; -W would fork a master.
    const haproxy = spawnLogged('haproxy', ['-db', '-f', haproxyFile], join(dir, 'haproxy.log'));
    started.push(() => stopChild(haproxy));
    const url = (port: number) => `postgres://postgres:${encodeURIComponent(secrets.superuser)}@127.0.0.1:${port}/postgres`;
    const writeUrl = url(writePort);
    const { default: pg } = await import('pg');
    const leaderBehindProxy = async (): Promise<number | undefined> => {
      const client = new pg.Client({ connectionString: writeUrl, connectionTimeoutMillis: 2_000 });
      try {
        await client.connect();
        const { rows } = await client.query<{ port: number; recovery: boolean }>(
          'SELECT inet_server_port() AS port, pg_is_in_recovery() AS recovery',
        );
        return rows[0]!.recovery ? undefined : rows[0]!.port;
      } finally {
        await client.end().catch(() => undefined);
      }
    };
    await waitHealthy();
    log(
      `topology up: etcd :${etcdPort}, ${nodes.map((n) => `${n.name} pg :${n.pgPort} rest :${n.restPort}`).join(', ')}, haproxy write :${writePort} read :${readPort}`,
    );

    return {
      dir,
      writeUrl,
      readUrl: url(readPort),
      superuserPassword: secrets.superuser,
      nodes,
      members,
      leader,
      waitHealthy,
      async killPostmaster(node) {
        const pid = postmasterPid(node);
        if (!pid) throw new Error(`${node.name} has no postmaster.pid`);
        process.kill(pid, 'SIGKILL');
        return pid;
      },
      async stopPatroni(node) {
        const pid = node.child?.pid ?? 0;
        await stopChild(node.child, 'SIGTERM', 60_000);
        return pid;
      },
      startPatroni,
      async switchover(from, candidate) {
        const response = await fetch(`http://127.0.0.1:${from.restPort}/switchover`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ leader: from.name, candidate: candidate.name }),
          signal: AbortSignal.timeout(60_000),
        });
        const text = await response.text();
        if (response.status !== 200) throw new Error(`switchover ${from.name} → ${candidate.name}: HTTP ${response.status} ${text}`);
      },
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

function postmasterPid(node: NodeProcess): number | undefined {
  const file = join(node.dir, 'data', 'postmaster.pid');
  if (!existsSync(file)) return undefined;
  const pid = Number(readFileSync(file, 'utf8').split('\n')[0]);
  return Number.isInteger(pid) && pid > 0 ? pid : undefined;
}
