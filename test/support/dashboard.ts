import type { FastifyInstance } from 'fastify';
import { pino } from 'pino';
import { createDashboardApp } from '../../src/dashboard/server.ts';

export interface TestDashboard {
  url: string;
  app: FastifyInstance;
  close(): Promise<void>;
}

/** The dashboard server on a loopback port, reading from `validatorUrl`. */
export async function startDashboard(validatorUrl: string): Promise<TestDashboard> {
  const app = await createDashboardApp({ validatorUrl, logger: pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' }) });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return { url: `http://127.0.0.1:${port}`, app, close: () => app.close() };
}
