import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { Config } from '../config.ts';
import type { Db } from '../db/db.ts';
import { createDiscordClient } from './discord.ts';
import { createDispatcher, type Dispatcher } from './dispatcher.ts';
import { createLinearClient } from './linear.ts';
import { createRedactor } from './errors.ts';
import { createPacer, discordBudget, linearBudget } from './pacing.ts';

/** The outbox dispatcher with the targets the configuration names. */
export function dispatcherFromConfig(db: Db, config: Readonly<Config>, logger: Logger, metrics?: Registry): Dispatcher {
  const { maxAttempts, baseDelayMs, maxDelayMs, timeoutMs, leaseMs, pollMs } = config.dispatcher;
  const pacer = createPacer();
  return createDispatcher({
    db,
    logger: logger.child({ component: 'dispatcher' }),
    linear: config.linear
      ? createLinearClient({ ...config.linear, timeoutMs, onResponse: (headers) => pacer.observe('linear', linearBudget(headers)) })
      : undefined,
    discord: config.discord
      ? createDiscordClient({
          webhookUrl: config.discord.webhookUrl,
          timeoutMs,
          onResponse: (headers) => pacer.observe('discord', discordBudget(headers)),
        })
      : undefined,
    pacer,
    redact: createRedactor([
      config.linear?.apiKey,
      config.discord?.webhookUrl,
      config.discord ? new URL(config.discord.webhookUrl).pathname.split('/').at(-1) : undefined,
    ]),
    retentionDays: config.outboxRetentionDays,
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
