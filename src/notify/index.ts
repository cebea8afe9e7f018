import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { Config } from '../config.ts';
import type { Db } from '../db/db.ts';
import { createDiscordClient } from './discord.ts';
import { createDispatcher, type Dispatcher } from './dispatcher.ts';
import { createLinearClient } from './linear.ts';

/** The outbox dispatcher with the targets the configuration names. */
export function dispatcherFromConfig(db: Db, config: Readonly<Config>, logger: Logger, metrics?: Registry): Dispatcher {
  const { maxAttempts, baseDelayMs, maxDelayMs, timeoutMs, leaseMs, pollMs } = config.dispatcher;
  return createDispatcher({
    db,
    logger: logger.child({ component: 'dispatcher' }),
    linear: config.linear ? createLinearClient({ ...config.linear, timeoutMs }) : undefined,
    discord: config.discord ? createDiscordClient({ webhookUrl: config.discord.webhookUrl, timeoutMs }) : undefined,
    maxAttempts,
    baseDelayMs,
    maxDelayMs,
    // A lease outlives any single delivery (the client times out first), so a live dispatcher
    // never loses a row it holds to another one.
    leaseMs: Math.max(leaseMs, timeoutMs * 2),
    pollMs,
    metrics,
  });
}
