import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { Config } from '../config.ts';
import type { Db } from '../db/db.ts';
import type { Admin } from '../governance/admin.ts';
import type { Authenticator } from '../governance/auth.ts';
import type { ActivityPublisher } from '../ledger/reads/activity.ts';
import type { ActorDirectory } from '../ledger/writing/actors.ts';
import type { GroupCommitter } from '../ledger/writing/group-commit.ts';
import type { AccessModes } from './access.ts';
import type { EventHub } from './events.ts';

/** What the app's routes are built from; wired in src/api/validator.ts. */
export interface AppDeps {
  db: Db;
  /** For reads that may lag behind the primary: a streaming replica when one is configured. */
  readDb: Db;
  committer: GroupCommitter;
  admin: Admin;
  actors: ActorDirectory;
  authenticate: Authenticator;
  logger: Logger;
  validatorVersion: string;
  bodyLimit?: number;
  /** Admin calls allowed per client address per minute. */
  adminRatePerMinute?: number;
  /** Live events (GET /events); one is made over `db` when absent. */
  events?: EventHub;
  /** Announces committed writes to every replica's /events; flushed when the app closes. */
  activity?: ActivityPublisher;
  /** How old the drift verifier's verdict may be for /health to pass. */
  guard?: { maxVerdictAgeMs: number };
  /** Whether /execute and the reads need a key; both open when absent. */
  access?: AccessModes;
  /** Socket timeouts and the connection cap; Node's defaults when absent. */
  server?: Config['server'];
  /** Failed admin authentications allowed per client address per minute, across replicas. */
  adminAuthFailuresPerMinute?: number;
  /** This validator's Prometheus registry (the write path reports into it too); one is made when absent. */
  metrics?: Registry;
}
