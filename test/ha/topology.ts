import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, chownSync, closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { isAlive, runAs, waitForExit } from '../../src/db/embedded.ts';
import { stockBinDir } from '../support/stock-postgres.ts';
import { live } from '../chaos/processes.ts';
import { haproxyConfig, patroniConfig } from './configs.ts';
import { createNetwork, type Host, type Network } from './network.ts';

/**
 * The high-availability topology, each host in a network namespace of its own (test/ha/network.ts):
 * one etcd member, three PostgreSQL nodes each run by its own Patroni (as the postgres user), and
 * HAProxy with a write frontend that reaches the leader and a read frontend that reaches the
 * replicas, both chosen by Patroni's REST health checks. They talk over a private bridge, so a
 * partition, an asymmetric cut or a lossy link is a rule in one namespace while every process
 * stays alive. The harness and the services reach the cluster only through Unix sockets HAProxy
 * binds in the run's folder: the frontends, and one socket per node for its PostgreSQL and its
 * Patroni REST API. Every process is started and stopped by its PID, every namespace deleted.
 *
 * One etcd member: on one machine, three members would add no failure independence (they share
 * the host, its disk and its clock) while tripling the load; what is under test is PostgreSQL's
 * failover, which Patroni drives through whatever DCS it has. Production runs three or five
 * members on separate hosts (docs/deployment.md).
 */

export const NODES = ['node1', 'node2', 'node3'] as const;
export type NodeName = (typeof NODES)[number];
export const PG_PORT = 5432;
export const REST_PORT = 8008;
const ETCD_PORT = 2379;

export interface Member {
  name: string;
  role: string;
  state: string;
  host: string;
  port: number;
  timeline?: number;
  lag?: number | string;
}

export interface NodeProcess {
  name: NodeName;
  host: Host;
  pgPort: number;
  restPort: number;
  dir: string;
  config: string;
  child: ChildProcess | undefined;
}

export interface Topology {
  dir: string;
  network: Network;
  etcd: Host;
  proxy: Host;
  /** Superuser URLs: through HAProxy's write frontend (the leader), its read frontend (a replica). */
  writeUrl: string;
  readUrl: string;
  superuserPassword: string;
  nodes: NodeProcess[];
  /** `url` (any login, any database) pointed at one node's PostgreSQL instead of a frontend. */
  nodeUrl(url: string, node: string): string;
  /** `url` pointed at the write frontend. */
  frontendUrl(url: string): string;
  members(): Promise<Member[]>;
  leader(): Promise<NodeProcess>;
  /** Waits until one leader runs and the other `replicas` stream from it, one of them synchronous. */
  waitHealthy(replicas?: number, timeoutMs?: number): Promise<Member[]>;
  /** kill -9 of the node's postmaster (PID from postmaster.pid); Patroni is left running. */
  killPostmaster(node: NodeProcess): Promise<number>;
  /** SIGTERM to the node's Patroni, which stops its PostgreSQL and gives up the leader key. */
  stopPatroni(node: NodeProcess): Promise<number>;
  startPatroni(node: NodeProcess): void;
  /** SIGSTOP (then SIGCONT) to every process of the node: Patroni, the postmaster and its backends. */
  pause(node: NodeProcess): number[];
  resume(node: NodeProcess): void;
  /** A planned switchover from the leader to `candidate` through Patroni's REST API. */
  switchover(leader: NodeProcess, candidate: NodeProcess): Promise<void>;
  stop(): Promise<void>;
}

function spawnLogged(command: string[], logFile: string, options: { cwd?: string } = {}): ChildProcess {
  const log = openSync(logFile, 'a');
  const child = spawn(command[0]!, command.slice(1), { ...options, stdio: ['ignore', log, log] });
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

/** One HTTP request to a Patroni REST API, through the Unix socket HAProxy binds for it. */
function rest<T>(
  socketPath: string,
  path: string,
  options: { method?: string; body?: unknown; timeoutMs?: number } = {},
): Promise<{ status: number; body: T | undefined; text: string }> {
  return new Promise((resolve, reject) => {
    const payload = options.body === undefined ? undefined : JSON.stringify(options.body);
    const request = httpRequest(
      {
        socketPath,
        path,
        method: options.method ?? 'GET',
        headers: payload ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) } : {},
        timeout: options.timeoutMs ?? 2_000,
      },
      (response) => {
        let text = '';
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => (text += chunk));
        response.on('end', () => {
          let body: T | undefined;
          try {
            body = JSON.parse(text) as T;
          } catch {
            body = undefined;
          }
          resolve({ status: response.statusCode ?? 0, body, text });
        });
      },
    );
    request.on('timeout', () => request.destroy(new Error(`no answer from ${socketPath}${path}`)));
    request.on('error', reject);
    request.end(payload);
  });
}

/** Which Debian package provides each program the topology needs. */
export const PACKAGES: Record<string, string> = {
  etcd: 'etcd-server',
  patroni: 'patroni',
  haproxy: 'haproxy',
  nft: 'nftables',
  ip: 'iproute2',
  tc: 'iproute2',
};

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
  return [...new Set(missing)];
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

/** The PIDs of `root` and every process below it, from /proc. */
export function processTree(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const parent = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      children.set(parent, [...(children.get(parent) ?? []), Number(entry)]);
    } catch {
      // exited meanwhile
    }
  }
  const tree = [root];
  for (let i = 0; i < tree.length; i++) tree.push(...(children.get(tree[i]!) ?? []));
  return tree;
}

export interface TopologyOptions {
  /** Patroni's synchronous_mode_strict: no commit without a synchronous standby, even with none left. */
  strict: boolean;
}

export async function startTopology(dir: string, log: (line: string) => void, options: TopologyOptions): Promise<Topology> {
  const bin = stockBinDir();
  if (!bin) throw new Error("Debian's postgresql package is not installed: apt-get install postgresql");
  const owner = runAs();
  if (!owner) throw new Error('the HA topology makes network namespaces: run it as root');
  chmodSync(dir, 0o711);
  const secrets = {
    superuser: randomBytes(18).toString('base64url'),
    replication: randomBytes(18).toString('base64url'),
    rewind: randomBytes(18).toString('base64url'),
  };
  const scope = `gridgov-${randomBytes(4).toString('hex')}`;
  const network = createNetwork(['etcd', 'proxy', ...NODES]);
  const started: Array<() => Promise<void>> = [async () => network.remove()];
  const stop = async () => {
    for (const stopOne of started.reverse()) await stopOne().catch((error: unknown) => log(`teardown: ${String(error)}`));
  };
  const sockets = join(dir, 'sockets');
  mkdirSync(sockets, { mode: 0o755 });
  const socketDir = (name: string) => join(sockets, name);
  const restSocket = (name: string) => join(sockets, `${name}-rest.sock`);
  try {
    const etcdHost = network.hosts.get('etcd')!;
    const proxyHost = network.hosts.get('proxy')!;
    const etcdDir = join(dir, 'etcd');
    mkdirSync(etcdDir, { mode: 0o700 });
    const etcdUrl = (port: number) => `http://${etcdHost.address}:${port}`;
    const etcd = spawnLogged(
      [
        ...network.exec(etcdHost),
        'etcd',
        '--name=ha',
        `--data-dir=${etcdDir}`,
        `--listen-client-urls=${etcdUrl(ETCD_PORT)}`,
        `--advertise-client-urls=${etcdUrl(ETCD_PORT)}`,
        `--listen-peer-urls=${etcdUrl(ETCD_PORT + 1)}`,
        `--initial-advertise-peer-urls=${etcdUrl(ETCD_PORT + 1)}`,
        `--initial-cluster=ha=${etcdUrl(ETCD_PORT + 1)}`,
        '--initial-cluster-state=new',
      ],
      join(dir, 'etcd.log'),
    );
    started.push(() => stopChild(etcd));

    const nodes: NodeProcess[] = [];
    for (const name of NODES) {
      const nodeDir = join(dir, name);
      mkdirSync(nodeDir, { mode: 0o700 });
      chownSync(nodeDir, owner.uid, owner.gid);
      const host = network.hosts.get(name)!;
      const node: NodeProcess = {
        name,
        host,
        pgPort: PG_PORT,
        restPort: REST_PORT,
        dir: nodeDir,
        config: join(dir, `${name}.yml`),
        child: undefined,
      };
      writeFileSync(
        node.config,
        patroniConfig({ ...node, address: host.address }, `${etcdHost.address}:${ETCD_PORT}`, bin, secrets, scope, options.strict),
        { mode: 0o600 },
      );
      chownSync(node.config, owner.uid, owner.gid);
      mkdirSync(socketDir(name));
      nodes.push(node);
    }

    const startPatroni = (node: NodeProcess) => {
      if (node.child && node.child.exitCode === null && node.child.signalCode === null) return;
      const logFile = join(dir, `${node.name}.log`);
      if (!existsSync(logFile)) {
        writeFileSync(logFile, '');
        chownSync(logFile, owner.uid, owner.gid);
      }
      // setpriv execs Patroni in place (as ip netns exec does): the PID is Patroni's own.
      const asPostgres = ['setpriv', `--reuid=${owner.uid}`, `--regid=${owner.gid}`, '--clear-groups'];
      node.child = spawnLogged([...network.exec(node.host), ...asPostgres, 'patroni', node.config], logFile, { cwd: node.dir });
    };
    for (const node of nodes) {
      started.push(async () => {
        // A paused node is woken first, or it could not stop.
        for (const pid of [node.child?.pid, postmasterPid(node)]) if (pid && isAlive(pid)) process.kill(pid, 'SIGCONT');
        await stopChild(node.child, 'SIGTERM', 60_000);
        // A postmaster Patroni left behind (it was killed while PostgreSQL ran) is ended too.
        const pid = postmasterPid(node);
        if (pid && isAlive(pid)) {
          process.kill(pid, 'SIGQUIT');
          await waitForExit(pid, 10_000);
        }
      });
    }

    const haproxyFile = join(dir, 'haproxy.cfg');
    writeFileSync(
      haproxyFile,
      haproxyConfig(
        { write: socketDir('write'), read: socketDir('read') },
        nodes.map((n) => ({ ...n, address: n.host.address, pgSocket: socketDir(n.name), restSocket: restSocket(n.name) })),
      ),
    );
    mkdirSync(socketDir('write'));
    mkdirSync(socketDir('read'));
    // -db: stay in the foreground, so that the PID is HAProxy's own; -W would fork a master.
    const haproxy = spawnLogged([...network.exec(proxyHost), 'haproxy', '-db', '-f', haproxyFile], join(dir, 'haproxy.log'));
    started.push(() => stopChild(haproxy));

    const members = async (): Promise<Member[]> => {
      for (const node of nodes) {
        try {
          const reply = await rest<{ members: Member[] }>(restSocket(node.name), '/cluster');
          if (reply.status === 200 && reply.body) return reply.body.members;
        } catch {
          // that node's REST API is down or cut off: ask the next
        }
      }
      return [];
    };
    const leader = async (): Promise<NodeProcess> =>
      waitFor('a leader', 120_000, async () => {
        const found = (await members()).find((m) => m.role === 'leader' && m.state === 'running');
        return found ? nodes.find((n) => n.name === found.name) : undefined;
      });
    const withSocket = (url: string, socket: string) => {
      const parsed = new URL(url);
      parsed.hostname = 'localhost';
      parsed.port = String(PG_PORT);
      parsed.searchParams.set('host', socket);
      return parsed.toString();
    };
    const writeUrl = withSocket(`postgres://postgres:${encodeURIComponent(secrets.superuser)}@localhost/postgres`, socketDir('write'));
    const { default: pg } = await import('pg');
    const leaderBehindProxy = async (): Promise<string | undefined> => {
      const client = new pg.Client({ connectionString: writeUrl, connectionTimeoutMillis: 2_000 });
      try {
        await client.connect();
        const { rows } = await client.query<{ address: string; recovery: boolean }>(
          'SELECT host(inet_server_addr()) AS address, pg_is_in_recovery() AS recovery',
        );
        return rows[0]!.recovery ? undefined : rows[0]!.address;
      } finally {
        await client.end().catch(() => undefined);
      }
    };
    const waitHealthy = (replicas = 2, timeoutMs = 180_000) =>
      waitFor(`a leader and ${replicas} streaming replicas`, timeoutMs, async () => {
        const all = await members();
        const lead = all.filter((m) => m.role === 'leader' && m.state === 'running');
        const streaming = all.filter(
          (m) => (m.role === 'sync_standby' || m.role === 'replica') && ['running', 'streaming'].includes(m.state),
        );
        const sync = all.some((m) => m.role === 'sync_standby' && ['running', 'streaming'].includes(m.state));
        if (lead.length !== 1 || streaming.length < replicas || !sync) return undefined;
        // HAProxy must route writes to that leader before the topology counts as healthy.
        return (await leaderBehindProxy()) === lead[0]!.host ? all : undefined;
      });

    // The first node bootstraps the cluster; the others clone it once it leads.
    startPatroni(nodes[0]!);
    await leader();
    for (const node of nodes.slice(1)) startPatroni(node);
    await waitHealthy();
    log(
      `topology up in namespaces gg${network.id}-*: etcd ${etcdHost.address}, ${nodes.map((n) => `${n.name} ${n.host.address}`).join(', ')}, haproxy ${proxyHost.address}; sockets in ${sockets}`,
    );

    return {
      dir,
      network,
      etcd: etcdHost,
      proxy: proxyHost,
      writeUrl,
      readUrl: withSocket(writeUrl, socketDir('read')),
      superuserPassword: secrets.superuser,
      nodes,
      nodeUrl: (url, node) => withSocket(url, socketDir(node)),
      frontendUrl: (url) => withSocket(url, socketDir('write')),
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
      pause(node) {
        const pids = [node.child?.pid, postmasterPid(node)].filter((p): p is number => p !== undefined).flatMap(processTree);
        for (const pid of new Set(pids)) process.kill(pid, 'SIGSTOP');
        return [...new Set(pids)];
      },
      resume(node) {
        const pids = [node.child?.pid, postmasterPid(node)].filter((p): p is number => p !== undefined).flatMap(processTree);
        for (const pid of new Set(pids)) {
          try {
            process.kill(pid, 'SIGCONT');
          } catch {
            // exited meanwhile
          }
        }
      },
      async switchover(from, candidate) {
        const reply = await rest(restSocket(from.name), '/switchover', {
          method: 'POST',
          body: { leader: from.name, candidate: candidate.name },
          timeoutMs: 60_000,
        });
        if (reply.status !== 200) throw new Error(`switchover ${from.name} → ${candidate.name}: HTTP ${reply.status} ${reply.text}`);
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
