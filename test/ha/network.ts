import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';

/**
 * A private network of network namespaces for the HA topology: one namespace per host (etcd,
 * each PostgreSQL node, HAProxy), each joined by a veth pair to a bridge that lives in a
 * namespace of its own, with 10.77.0.0/24 addresses that exist only inside those namespaces.
 * Nothing is added to the machine's own namespace: the harness reaches the hosts only through
 * Unix sockets HAProxy binds in the run's folder (test/ha/topology.ts).
 *
 * Faults are rules inside a host's namespace: an nftables table that drops what comes from or
 * goes to chosen peers, and a queueing discipline on its link (netem when the kernel has it).
 * Every namespace made is remembered in `made`, and `removeNamespaces` (also run by the
 * harness's exit handler, synchronously) deletes them, which deletes their links too.
 */

export const SUBNET = '10.77.0';
const made = new Set<string>();

export interface Host {
  name: string;
  namespace: string;
  address: string;
  /** The host's end of its veth pair, inside its namespace. */
  link: string;
}

export interface LinkShaping {
  /** Per cent of packets dropped, each way they leave the host. */
  lossPercent: number;
  delayMs: number;
  /** How the delay was applied: netem, or, on a kernel without it, a token-bucket rate limit. */
  method?: 'netem' | 'nftables loss + tbf rate limit';
}

function ip(args: string[], input?: string): string {
  return execFileSync('ip', args, { encoding: 'utf8', input, stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
}
const inNamespace = (host: Host, command: string[], input?: string) => ip(['netns', 'exec', host.namespace, ...command], input);

/** Deletes every namespace this process made (and so their links); safe to call twice, and from an exit handler. */
export function removeNamespaces(): string[] {
  const removed: string[] = [];
  for (const namespace of made) {
    try {
      ip(['netns', 'delete', namespace]);
      removed.push(namespace);
    } catch {
      // already gone
    }
    made.delete(namespace);
  }
  return removed;
}

export interface Network {
  id: string;
  hosts: Map<string, Host>;
  /** The command prefix that runs a program inside the host's namespace. */
  exec(host: Host): string[];
  /** Drops what `host` receives from `from` and sends to `to` (both by default: a full cut). */
  block(host: Host, peers: { from?: Host[]; to?: Host[] }): void;
  shape(host: Host, shaping: LinkShaping): LinkShaping;
  /** Lifts every rule and shaping on every host. */
  heal(): void;
  remove(): void;
}

export function createNetwork(names: ReadonlyArray<string>): Network {
  const id = randomBytes(3).toString('hex');
  const bridgeNamespace = `gg${id}-switch`;
  const hosts = new Map<string, Host>();
  const create = (namespace: string) => {
    ip(['netns', 'add', namespace]);
    made.add(namespace);
    ip(['-n', namespace, 'link', 'set', 'lo', 'up']);
  };
  try {
    create(bridgeNamespace);
    ip(['-n', bridgeNamespace, 'link', 'add', 'br0', 'type', 'bridge']);
    ip(['-n', bridgeNamespace, 'link', 'set', 'br0', 'up']);
    names.forEach((name, i) => {
      const host: Host = { name, namespace: `gg${id}-${name}`, address: `${SUBNET}.${10 + i}`, link: 'eth0' };
      create(host.namespace);
      const port = `p${i}`;
      ip(['link', 'add', host.link, 'netns', host.namespace, 'type', 'veth', 'peer', 'name', port, 'netns', bridgeNamespace]);
      ip(['-n', bridgeNamespace, 'link', 'set', port, 'master', 'br0', 'up']);
      ip(['-n', host.namespace, 'addr', 'add', `${host.address}/24`, 'dev', host.link]);
      ip(['-n', host.namespace, 'link', 'set', host.link, 'up']);
      hosts.set(name, host);
    });
  } catch (error) {
    removeNamespaces();
    throw error;
  }

  const shaped = new Set<Host>();
  const blocked = new Set<Host>();
  const table = (host: Host) => {
    if (blocked.has(host)) return;
    inNamespace(
      host,
      ['nft', '-f', '-'],
      `table inet fault {
  chain input { type filter hook input priority 0; policy accept; }
  chain output { type filter hook output priority 0; policy accept; }
}
`,
    );
    blocked.add(host);
  };
  const qdisc = (host: Host, discipline: string[]) => inNamespace(host, ['tc', 'qdisc', 'add', 'dev', host.link, 'root', ...discipline]);
  const addresses = (peers: Host[]) => `{ ${peers.map((p) => p.address).join(', ')} }`;

  return {
    id,
    hosts,
    exec: (host) => ['ip', 'netns', 'exec', host.namespace],
    block(host, peers) {
      table(host);
      if (peers.from?.length) inNamespace(host, ['nft', `add rule inet fault input ip saddr ${addresses(peers.from)} drop`]);
      if (peers.to?.length) inNamespace(host, ['nft', `add rule inet fault output ip daddr ${addresses(peers.to)} drop`]);
    },
    shape(host, shaping) {
      shaped.add(host);
      try {
        qdisc(host, ['netem', 'delay', `${shaping.delayMs}ms`, 'loss', `${shaping.lossPercent}%`]);
        return { ...shaping, method: 'netem' };
      } catch {
        // No sch_netem in this kernel: random loss from nftables, delay from a slow token bucket.
        table(host);
        const loss = `numgen random mod 100 < ${shaping.lossPercent} drop`;
        inNamespace(host, ['nft', `add rule inet fault output ip daddr ${SUBNET}.0/24 ${loss}`]);
        inNamespace(host, ['nft', `add rule inet fault input ip saddr ${SUBNET}.0/24 ${loss}`]);
        qdisc(host, ['tbf', 'rate', '2mbit', 'burst', '16kb', 'latency', `${shaping.delayMs}ms`]);
        return { ...shaping, method: 'nftables loss + tbf rate limit' };
      }
    },
    heal() {
      for (const host of blocked) inNamespace(host, ['nft', 'delete table inet fault']);
      blocked.clear();
      for (const host of shaped) {
        try {
          inNamespace(host, ['tc', 'qdisc', 'del', 'dev', host.link, 'root']);
        } catch {
          // nothing was added
        }
      }
      shaped.clear();
    },
    remove: () => void removeNamespaces(),
  };
}
