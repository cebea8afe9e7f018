import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { loadAgentConfig, type AgentConfig } from './agent-config.ts';

/** Everything the processes read from the environment and flags, parsed once and frozen. */
export interface Config {
  host: string;
  port: number;
  databaseUrl: string | undefined;
  /** Migrations and operations commands connect as this role when set (else DATABASE_URL's). */
  databaseOwnerUrl: string | undefined;
  /** A streaming replica for reads that may lag. */
  databaseReadUrl: string | undefined;
  dataDir: string;
  adminKey: string | undefined;
  /** The key `gridgov admin` presents (GRIDGOV_API_KEY); else the admin key, else the data dir's. */
  apiKey: string | undefined;
  validatorVersion: string;
  logLevel: string;
  /** `pretty` (one readable line per event) when stderr is a terminal, else `json`; LOG_FORMAT overrides. */
  logFormat: 'json' | 'pretty';
  linear: { apiKey: string; teamId: string; apiUrl: string; labelIds: string[] } | undefined;
  discord: { webhookUrl: string } | undefined;
  groupCommit: { maxGroup: number; lanes: number };
  /**
   * Bounds on every pooled connection, so a stalled peer (a paused process, a lost network)
   * cannot hold locks or connections for long; milliseconds, 0 for none. Services (validator,
   * dispatcher) get all of them; operations commands (migrate, seed, rehydrate, checkpoint,
   * verify, keys) and migrations wherever they run get `operationsStatementTimeoutMs` and no lock
   * bound, since their work grows with the ledger and an operator watches it.
   */
  database: {
    statementTimeoutMs: number;
    lockTimeoutMs: number;
    idleInTransactionTimeoutMs: number;
    keepAliveDelayMs: number;
    /** How long a pooled connection may sit unused before it is closed; 0 keeps it. */
    idleConnectionMs: number;
    operationsStatementTimeoutMs: number;
  };
  adminRatePerMinute: number;
  /** Failed admin authentications allowed per client address per minute, across replicas. */
  adminAuthFailuresPerMinute: number;
  /** Whether /execute needs a key, and whether reads, /events and /metrics need a viewer key. */
  auth: { execute: AuthMode; read: AuthMode };
  /** The validator's socket limits: slow or idle clients are cut off, open connections capped. */
  server: {
    headersTimeoutMs: number;
    requestTimeoutMs: number;
    keepAliveTimeoutMs: number;
    idleTimeoutMs: number;
    maxConnections: number;
    /** /health answers within this, naming the checks the database did not answer in time. */
    healthTimeoutMs: number;
  };
  /** Delivered outbox rows older than this many days are pruned by the dispatcher. */
  outboxRetentionDays: number;
  dispatcher: { maxAttempts: number; baseDelayMs: number; maxDelayMs: number; timeoutMs: number; leaseMs: number; pollMs: number };
  /** Language models for the agent strategies (GEMINI_*, OPENAI_*). */
  agents: AgentConfig;
  /** The runner's API key (system role); GRIDGOV_ADMIN_KEY when unset. */
  runnerKey: string | undefined;
  /** `gridgov start`'s in-process runner: whether it runs, and the pause between epochs. */
  runner: { enabled: boolean; intervalMs: number };
  /**
   * The web dashboard: its port when set explicitly, and the validator it reads from, as the
   * commands that talk to a validator do (validatorUrlSet: given by flag or GRIDGOV_URL, not the default).
   */
  dashboard: { port: number | undefined; validatorUrl: string; validatorUrlSet: boolean };
  /** The validator's background drift verifier, checkpoints and hash-chain sealer. */
  guard: {
    enabled: boolean;
    verifyIntervalMs: number;
    /** /health fails when the newest verdict compared a snapshot older than this. */
    maxVerdictAgeMs: number;
    checkpointEvery: number;
    sealIntervalMs: number;
    sealBlockSize: number;
    sealMaxRows: number;
    recheckRows: number;
  };
  /**
   * `gridgov experiment`'s episode queue: an episode's lease (renewed every third of it while the
   * episode runs; a dead worker's episode goes to another once it lapses), how often the queue's
   * maintenance looks for lapsed leases, and how many more times an episode may be started.
   */
  experiments: { leaseSeconds: number; sweepSeconds: number; retries: number };
  /** Prometheus listeners of the processes without an HTTP API of their own, and trace export. */
  observability: {
    metricsHost: string;
    dispatcherMetricsPort: number;
    runnerMetricsPort: number;
    /** USD per million tokens, for the runner's estimated model cost. */
    /** Spans are exported (OTLP over HTTP) only when this is set. */
    otlpEndpoint: string | undefined;
  };
}

export class ConfigError extends Error {}

export type AuthMode = 'required' | 'open';

/** Loopback only: 127.0.0.0/8, ::1 and localhost. Anything else may be reached from elsewhere. */
export function isLoopback(host: string): boolean {
  return /^(127\.\d{1,3}\.\d{1,3}\.\d{1,3}|::1|\[::1\]|localhost)$/i.test(host);
}

function authMode(name: string, raw: string | undefined, host: string): AuthMode {
  if (raw === undefined || raw.trim() === '') return isLoopback(host) ? 'open' : 'required';
  const value = raw.trim().toLowerCase();
  if (value === 'required' || value === 'open') return value;
  throw new ConfigError(`${name} must be required or open, got "${raw}"`);
}

/** A postgres:// URL that parses: a typo must stop the process at start, not answer 503 later. */
function postgresUrl(name: string, value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  if (!/^postgres(ql)?:\/\//.test(value)) throw new ConfigError(`${name} must start with postgres:// or postgresql://`);
  try {
    const url = new URL(value);
    decodeURIComponent(url.username);
    decodeURIComponent(url.password);
    if (url.port !== '' && !(Number(url.port) > 0)) throw new Error('bad port');
  } catch {
    throw new ConfigError(`${name} is not a valid URL (postgres://user:password@host:port/database; percent-encode special characters)`);
  }
  return value;
}

export type Env = Record<string, string | undefined>;
export type Flags = Record<string, string | boolean | undefined>;

const ROOT = fileURLToPath(new URL('..', import.meta.url));

function packageVersion(): string {
  return (JSON.parse(readFileSync(`${ROOT}/package.json`, 'utf8')) as { version: string }).version;
}

/** The git commit of the running code when there is one, else the package version. */
function detectVersion(): string {
  try {
    const commit = execFileSync('git', ['rev-parse', '--short=12', 'HEAD'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'ignore'] })
      .toString()
      .trim();
    if (/^[0-9a-f]{7,40}$/.test(commit)) return `${packageVersion()}+${commit}`;
  } catch {
    // not a git checkout: fall through
  }
  return packageVersion();
}

function integer(name: string, raw: string | undefined, fallback: number, min: number, max: number): number {
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new ConfigError(`${name} must be an integer between ${min} and ${max}, got "${raw}"`);
  }
  return value;
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === '' ? undefined : value.trim();
}

function onOff(name: string, raw: string | undefined, fallback: boolean): boolean {
  if (raw === undefined || raw.trim() === '') return fallback;
  if (/^(on|true|1|yes)$/i.test(raw.trim())) return true;
  if (/^(off|false|0|no)$/i.test(raw.trim())) return false;
  throw new ConfigError(`${name} must be on or off, got "${raw}"`);
}

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

function logLevel(raw: string | undefined): string {
  const level = nonEmpty(raw)?.toLowerCase() ?? 'info';
  if (!LOG_LEVELS.includes(level)) throw new ConfigError(`LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')}, got "${raw}"`);
  return level;
}

function logFormat(raw: string | undefined): 'json' | 'pretty' {
  const format = nonEmpty(raw)?.toLowerCase();
  if (format === undefined) return process.stderr.isTTY ? 'pretty' : 'json';
  if (format !== 'json' && format !== 'pretty') throw new ConfigError(`LOG_FORMAT must be json or pretty, got "${raw}"`);
  return format;
}

export function loadConfig(env: Env = process.env, flags: Flags = {}): Readonly<Config> {
  const flag = (name: string) => (typeof flags[name] === 'string' ? (flags[name] as string) : undefined);
  const databaseUrl = postgresUrl('DATABASE_URL', nonEmpty(flag('database-url') ?? env.DATABASE_URL));
  const databaseOwnerUrl = postgresUrl('DATABASE_OWNER_URL', nonEmpty(env.DATABASE_OWNER_URL));
  const databaseReadUrl = postgresUrl('DATABASE_READ_URL', nonEmpty(env.DATABASE_READ_URL));
  if ((databaseOwnerUrl || databaseReadUrl) && !databaseUrl) {
    throw new ConfigError('DATABASE_OWNER_URL and DATABASE_READ_URL need DATABASE_URL as well');
  }
  const adminKey = nonEmpty(env.GRIDGOV_ADMIN_KEY);
  if (adminKey && adminKey.length < 16) throw new ConfigError('GRIDGOV_ADMIN_KEY must be at least 16 characters');

  const linearKey = nonEmpty(env.LINEAR_API_KEY);
  const linearTeam = nonEmpty(env.LINEAR_TEAM_ID);
  if (Boolean(linearKey) !== Boolean(linearTeam)) {
    throw new ConfigError('LINEAR_API_KEY and LINEAR_TEAM_ID must be set together');
  }
  const dashboardPort = flag('dashboard-port') ?? nonEmpty(env.GRIDGOV_DASHBOARD_PORT);
  const givenValidatorUrl = flag('validator') ?? nonEmpty(env.GRIDGOV_URL);
  const validatorUrl = (givenValidatorUrl ?? 'http://127.0.0.1:8080').replace(/\/+$/, '');
  if (!/^https?:\/\/[^/\s]+/.test(validatorUrl))
    throw new ConfigError(`--validator / GRIDGOV_URL must be an http(s) URL, got "${validatorUrl}"`);
  const otlpEndpoint = nonEmpty(env.OTEL_EXPORTER_OTLP_ENDPOINT);
  if (otlpEndpoint && !/^https?:\/\/[^/\s]+/.test(otlpEndpoint))
    throw new ConfigError(`OTEL_EXPORTER_OTLP_ENDPOINT must be an http(s) URL, got "${otlpEndpoint}"`);
  const webhook = nonEmpty(env.DISCORD_WEBHOOK_URL);
  if (webhook && !/^https?:\/\//.test(webhook)) throw new ConfigError('DISCORD_WEBHOOK_URL must be an http(s) URL');

  const host = flag('host') ?? nonEmpty(env.HOST) ?? '127.0.0.1';
  const headersTimeoutMs = integer('GRIDGOV_HEADERS_TIMEOUT_MS', env.GRIDGOV_HEADERS_TIMEOUT_MS, 20_000, 100, 600_000);
  const requestTimeoutMs = integer('GRIDGOV_REQUEST_TIMEOUT_MS', env.GRIDGOV_REQUEST_TIMEOUT_MS, 60_000, 100, 3_600_000);
  if (requestTimeoutMs < headersTimeoutMs)
    throw new ConfigError('GRIDGOV_REQUEST_TIMEOUT_MS must not be shorter than GRIDGOV_HEADERS_TIMEOUT_MS');

  return Object.freeze({
    host,
    port: integer('PORT', flag('port') ?? env.PORT, 8080, 0, 65535),
    databaseUrl,
    databaseOwnerUrl,
    databaseReadUrl,
    dataDir: flag('data-dir') ?? nonEmpty(env.GRIDGOV_DATA_DIR) ?? '.gridgov',
    adminKey,
    apiKey: nonEmpty(env.GRIDGOV_API_KEY),
    validatorVersion: nonEmpty(env.GRIDGOV_VALIDATOR_VERSION) ?? detectVersion(),
    logLevel: logLevel(env.LOG_LEVEL),
    logFormat: logFormat(env.LOG_FORMAT),
    linear:
      linearKey && linearTeam
        ? {
            apiKey: linearKey,
            teamId: linearTeam,
            apiUrl: nonEmpty(env.LINEAR_API_URL) ?? 'https://api.linear.app/graphql',
            labelIds: (nonEmpty(env.LINEAR_LABEL_IDS) ?? '')
              .split(',')
              .map((s) => s.trim())
              .filter(Boolean),
          }
        : undefined,
    discord: webhook ? { webhookUrl: webhook } : undefined,
    adminRatePerMinute: integer('GRIDGOV_ADMIN_RATE_PER_MIN', env.GRIDGOV_ADMIN_RATE_PER_MIN, 120, 1, 1_000_000),
    adminAuthFailuresPerMinute: integer('GRIDGOV_ADMIN_AUTH_FAILURES_PER_MIN', env.GRIDGOV_ADMIN_AUTH_FAILURES_PER_MIN, 30, 1, 1_000_000),
    auth: {
      execute: authMode('GRIDGOV_EXECUTE_AUTH', flag('execute-auth') ?? env.GRIDGOV_EXECUTE_AUTH, host),
      read: authMode('GRIDGOV_READ_AUTH', flag('read-auth') ?? env.GRIDGOV_READ_AUTH, host),
    },
    server: {
      headersTimeoutMs,
      requestTimeoutMs,
      keepAliveTimeoutMs: integer('GRIDGOV_KEEPALIVE_TIMEOUT_MS', env.GRIDGOV_KEEPALIVE_TIMEOUT_MS, 5000, 100, 600_000),
      idleTimeoutMs: integer('GRIDGOV_IDLE_TIMEOUT_MS', env.GRIDGOV_IDLE_TIMEOUT_MS, 60_000, 100, 3_600_000),
      maxConnections: integer('GRIDGOV_MAX_CONNECTIONS', env.GRIDGOV_MAX_CONNECTIONS, 4096, 16, 1_000_000),
      healthTimeoutMs: integer('GRIDGOV_HEALTH_TIMEOUT_MS', env.GRIDGOV_HEALTH_TIMEOUT_MS, 2000, 10, 600_000),
    },
    outboxRetentionDays: integer('GRIDGOV_OUTBOX_RETENTION_DAYS', env.GRIDGOV_OUTBOX_RETENTION_DAYS, 30, 1, 36_500),
    groupCommit: {
      maxGroup: integer('GRIDGOV_GROUP_MAX', env.GRIDGOV_GROUP_MAX, 256, 1, 5000),
      lanes: integer('GRIDGOV_GROUP_LANES', env.GRIDGOV_GROUP_LANES, 1, 1, 64),
    },
    database: {
      statementTimeoutMs: integer('GRIDGOV_DB_STATEMENT_TIMEOUT_MS', env.GRIDGOV_DB_STATEMENT_TIMEOUT_MS, 30_000, 0, 86_400_000),
      lockTimeoutMs: integer('GRIDGOV_DB_LOCK_TIMEOUT_MS', env.GRIDGOV_DB_LOCK_TIMEOUT_MS, 10_000, 0, 86_400_000),
      idleInTransactionTimeoutMs: integer(
        'GRIDGOV_DB_IDLE_IN_TRANSACTION_TIMEOUT_MS',
        env.GRIDGOV_DB_IDLE_IN_TRANSACTION_TIMEOUT_MS,
        5_000,
        0,
        86_400_000,
      ),
      keepAliveDelayMs: integer('GRIDGOV_DB_KEEPALIVE_MS', env.GRIDGOV_DB_KEEPALIVE_MS, 10_000, 0, 3_600_000),
      idleConnectionMs: integer('GRIDGOV_DB_IDLE_CONNECTION_MS', env.GRIDGOV_DB_IDLE_CONNECTION_MS, 600_000, 0, 86_400_000),
      operationsStatementTimeoutMs: integer(
        'GRIDGOV_DB_OPERATIONS_STATEMENT_TIMEOUT_MS',
        env.GRIDGOV_DB_OPERATIONS_STATEMENT_TIMEOUT_MS,
        0,
        0,
        86_400_000,
      ),
    },
    dispatcher: {
      maxAttempts: integer('GRIDGOV_OUTBOX_MAX_ATTEMPTS', env.GRIDGOV_OUTBOX_MAX_ATTEMPTS, 8, 1, 100),
      baseDelayMs: integer('GRIDGOV_OUTBOX_BASE_DELAY_MS', env.GRIDGOV_OUTBOX_BASE_DELAY_MS, 1000, 1, 3_600_000),
      maxDelayMs: integer('GRIDGOV_OUTBOX_MAX_DELAY_MS', env.GRIDGOV_OUTBOX_MAX_DELAY_MS, 300_000, 1, 86_400_000),
      timeoutMs: integer('GRIDGOV_OUTBOX_TIMEOUT_MS', env.GRIDGOV_OUTBOX_TIMEOUT_MS, 10_000, 100, 600_000),
      leaseMs: integer('GRIDGOV_OUTBOX_LEASE_MS', env.GRIDGOV_OUTBOX_LEASE_MS, 60_000, 100, 3_600_000),
      pollMs: integer('GRIDGOV_OUTBOX_POLL_MS', env.GRIDGOV_OUTBOX_POLL_MS, 500, 10, 60_000),
    },
    agents: loadAgentConfig({ ...env, GRIDGOV_LLM_CACHE: flag('llm-cache') ?? env.GRIDGOV_LLM_CACHE }, (message) => {
      throw new ConfigError(message);
    }),
    runnerKey: nonEmpty(env.GRIDGOV_RUNNER_KEY) ?? adminKey,
    runner: {
      enabled: flags['no-runner'] !== true && onOff('GRIDGOV_RUNNER', env.GRIDGOV_RUNNER, true),
      intervalMs: integer(
        '--interval / GRIDGOV_RUNNER_INTERVAL_MS',
        flag('interval') ?? env.GRIDGOV_RUNNER_INTERVAL_MS,
        2000,
        0,
        86_400_000,
      ),
    },
    dashboard: {
      port: dashboardPort === undefined ? undefined : integer('GRIDGOV_DASHBOARD_PORT', dashboardPort, 0, 0, 65535),
      validatorUrl,
      validatorUrlSet: givenValidatorUrl !== undefined,
    },
    guard: {
      enabled: onOff('GRIDGOV_LEDGER_GUARD', env.GRIDGOV_LEDGER_GUARD, true),
      verifyIntervalMs: integer('GRIDGOV_VERIFY_INTERVAL_MS', env.GRIDGOV_VERIFY_INTERVAL_MS, 1000, 10, 60_000),
      maxVerdictAgeMs: integer('GRIDGOV_VERIFY_MAX_AGE_MS', env.GRIDGOV_VERIFY_MAX_AGE_MS, 5000, 100, 3_600_000),
      checkpointEvery: integer('GRIDGOV_CHECKPOINT_EVERY', env.GRIDGOV_CHECKPOINT_EVERY, 100_000, 1, 1_000_000_000),
      sealIntervalMs: integer('GRIDGOV_SEAL_INTERVAL_MS', env.GRIDGOV_SEAL_INTERVAL_MS, 1000, 10, 600_000),
      sealBlockSize: integer('GRIDGOV_SEAL_BLOCK_SIZE', env.GRIDGOV_SEAL_BLOCK_SIZE, 1000, 1, 100_000),
      sealMaxRows: 100_000,
      recheckRows: integer('GRIDGOV_CHAIN_RECHECK_ROWS', env.GRIDGOV_CHAIN_RECHECK_ROWS, 10_000, 0, 10_000_000),
    },
    experiments: {
      leaseSeconds: integer('GRIDGOV_EXPERIMENT_LEASE_SECONDS', env.GRIDGOV_EXPERIMENT_LEASE_SECONDS, 60, 2, 86_000),
      sweepSeconds: integer('GRIDGOV_EXPERIMENT_SWEEP_SECONDS', env.GRIDGOV_EXPERIMENT_SWEEP_SECONDS, 10, 1, 3600),
      retries: integer('GRIDGOV_EXPERIMENT_RETRIES', env.GRIDGOV_EXPERIMENT_RETRIES, 5, 0, 1000),
    },
    observability: {
      metricsHost: nonEmpty(env.GRIDGOV_METRICS_HOST) ?? '127.0.0.1',
      dispatcherMetricsPort: integer('GRIDGOV_DISPATCHER_METRICS_PORT', env.GRIDGOV_DISPATCHER_METRICS_PORT, 9465, 0, 65535),
      runnerMetricsPort: integer('GRIDGOV_RUNNER_METRICS_PORT', env.GRIDGOV_RUNNER_METRICS_PORT, 9466, 0, 65535),
      otlpEndpoint,
    },
  });
}
