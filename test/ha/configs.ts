import { join } from 'node:path';

/**
 * The configuration files of the HA topology: Patroni's (one per node, with the cluster's DCS
 * settings for its bootstrap) and HAProxy's. docs/deployment.md explains the settings that matter.
 */

/** What configs need of a node: its address on the private bridge, and its ports there. */
export interface NodeConfigTarget {
  name: string;
  address: string;
  pgPort: number;
  restPort: number;
  dir: string;
}

/** Patroni's timings, written to the DCS at bootstrap (docs/deployment.md explains each). */
export const PATRONI_TIMINGS = {
  ttl: 12,
  loop_wait: 1,
  retry_timeout: 5,
  maximum_lag_on_failover: 1_048_576,
  // A crashed primary gets this long to come back before the synchronous standby takes over.
  primary_start_timeout: 10,
};
/**
 * How soon the primary drops a standby it cannot hear. Patroni picks the synchronous standby among
 * the walsenders PostgreSQL lists, so with the default 60 s a leader cut from its synchronous
 * standby alone holds every commit for up to a minute before Patroni names another.
 */
export const WAL_SENDER_TIMEOUT = '5s';

/** HAProxy's checks of Patroni's REST API: every 500 ms, down after 2 failures, up after 2 passes. */
export const HAPROXY_CHECK = 'inter 500ms fastinter 250ms downinter 500ms fall 2 rise 2 on-marked-down shutdown-sessions';

export function patroniConfig(
  node: NodeConfigTarget,
  etcd: string,
  bin: string,
  secrets: Record<string, string>,
  scope: string,
  strict: boolean,
): string {
  const t = PATRONI_TIMINGS;
  const subnet = `${node.address.split('.').slice(0, 3).join('.')}.0/24`;
  return `scope: ${scope}
namespace: /gridgov-ha/
name: ${node.name}
log:
  level: INFO
restapi:
  listen: ${node.address}:${node.restPort}
  connect_address: ${node.address}:${node.restPort}
etcd3:
  host: ${etcd}
bootstrap:
  dcs:
    ttl: ${t.ttl}
    loop_wait: ${t.loop_wait}
    retry_timeout: ${t.retry_timeout}
    maximum_lag_on_failover: ${t.maximum_lag_on_failover}
    primary_start_timeout: ${t.primary_start_timeout}
    synchronous_mode: true
    synchronous_mode_strict: ${strict}
    postgresql:
      use_pg_rewind: true
      use_slots: true
      parameters:
        wal_level: replica
        hot_standby: 'on'
        wal_log_hints: 'on'
        max_wal_senders: 10
        max_replication_slots: 10
        wal_keep_size: 256MB
        wal_sender_timeout: ${WAL_SENDER_TIMEOUT}
  initdb:
    - encoding: UTF8
    - auth-host: scram-sha-256
    - auth-local: trust
  pg_hba:
    - local all all trust
    - host replication replicator ${subnet} scram-sha-256
    - host all all ${subnet} scram-sha-256
postgresql:
  listen: ${node.address}:${node.pgPort}
  connect_address: ${node.address}:${node.pgPort}
  data_dir: ${join(node.dir, 'data')}
  bin_dir: ${bin}
  pgpass: ${join(node.dir, 'pgpass')}
  authentication:
    superuser:
      username: postgres
      password: ${secrets.superuser}
    replication:
      username: replicator
      password: ${secrets.replication}
    rewind:
      username: rewinder
      password: ${secrets.rewind}
  parameters:
    unix_socket_directories: '${node.dir}'
tags:
  nofailover: false
  noloadbalance: false
  clonefrom: false
  nosync: false
`;
}

/**
 * HAProxy in its own namespace: the frontends, and a plain pass-through to each node's PostgreSQL
 * and Patroni REST API, bound on Unix sockets in the run's folder (the harness's only way in).
 */
export function haproxyConfig(
  frontends: { write: string; read: string },
  nodes: Array<NodeConfigTarget & { pgSocket: string; restSocket: string }>,
): string {
  const servers = nodes.map((n) => `  server ${n.name} ${n.address}:${n.pgPort} check port ${n.restPort}`).join('\n');
  const socket = (dir: string) => `unix@${join(dir, '.s.PGSQL.5432')} mode 666`;
  const passThrough = nodes
    .map(
      (n) => `listen ${n.name}-pg
  bind ${socket(n.pgSocket)}
  server ${n.name} ${n.address}:${n.pgPort}

listen ${n.name}-rest
  bind unix@${n.restSocket} mode 666
  server ${n.name} ${n.address}:${n.restPort}
`,
    )
    .join('\n');
  return `global
  maxconn 2000

defaults
  mode tcp
  timeout connect 2s
  timeout check 2s
  timeout client 1h
  timeout server 1h

listen write
  bind ${socket(frontends.write)}
  option httpchk
  http-check send meth GET uri /primary
  http-check expect status 200
  default-server ${HAPROXY_CHECK}
${servers}

listen read
  bind ${socket(frontends.read)}
  balance roundrobin
  option httpchk
  http-check send meth GET uri /replica
  http-check expect status 200
  default-server ${HAPROXY_CHECK}
${servers}

${passThrough}`;
}
