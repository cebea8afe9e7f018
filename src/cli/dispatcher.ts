import { loadConfig } from '../config.ts';
import { dispatcherFromConfig } from '../notify/index.ts';
import { createRegistry, registerPoolMetrics } from '../observability/metrics.ts';
import { startMetricsServer } from '../observability/server.ts';
import { setupTracing } from '../observability/tracing.ts';
import { parseFlags } from './args.ts';
import type { Command } from './args.ts';
import { createLogger, onShutdown, openDatabase } from './runtime.ts';

export const command: Command = {
  summary: 'Deliver the rejection outbox to Linear and Discord, with retries; several may run at once',
  usage: 'gridgov dispatcher [--database-url URL] [--data-dir DIR]',
  async run(args) {
    const { values } = parseFlags(args, {});
    const config = loadConfig(process.env, values);
    await setupTracing({ serviceName: 'gridgov-dispatcher', otlpEndpoint: config.observability.otlpEndpoint });
    const logger = createLogger(config, 'dispatcher');
    const database = await openDatabase(config, logger, 4, { role: 'app' });
    const metrics = createRegistry();
    registerPoolMetrics(metrics, { primary: database.db });
    let server;
    try {
      server = await startMetricsServer(metrics, {
        host: config.observability.metricsHost,
        port: config.observability.dispatcherMetricsPort,
        setting: 'GRIDGOV_DISPATCHER_METRICS_PORT',
      });
    } catch (error) {
      await database.close();
      throw error;
    }
    const dispatcher = dispatcherFromConfig(database.db, config, logger, metrics);
    dispatcher.start();
    // The dispatcher sleeps on unref'd timers (it also runs inside other processes); alone, while
    // the database is down it holds no socket either, and Node would exit. Stay up until a signal.
    const keepAlive = setInterval(() => undefined, 60_000);
    onShutdown(async () => {
      clearInterval(keepAlive);
      await dispatcher.stop();
      await server.close();
      await database.close();
    }, logger);
    console.log(
      `dispatcher running (linear: ${config.linear ? 'on' : 'off'}, discord: ${config.discord ? 'on' : 'off'}); metrics on ${server.url}`,
    );
    return new Promise<number>(() => undefined);
  },
};
