/**
 * Starts or stops Debian's PostgreSQL as packaged (see test/support/stock-postgres.ts), for shells:
 *
 *   url=$(node --import tsx scripts/stock-postgres.ts start DIR)   # prints a superuser URL
 *   TEST_DATABASE_URL=$url npm test -- test/ledger/*.test.ts
 *   node --import tsx scripts/stock-postgres.ts stop DIR           # by the PID the cluster records
 *
 * DIR is created if needed and removed by `stop`. The server's log is DIR/postgres.log.
 */
import { rmSync } from 'node:fs';
import { postmasterPid, startStockPostgres, stopPostmaster } from '../test/support/stock-postgres.ts';

async function main(): Promise<number> {
  const [action, dir] = process.argv.slice(2);
  if ((action !== 'start' && action !== 'stop') || !dir) {
    console.error('usage: stock-postgres.ts start|stop DIR');
    return 2;
  }
  if (action === 'start') {
    const server = await startStockPostgres({ dir, keep: true, detached: true });
    console.error(
      `stock-postgres: ${server.version}, jit=${server.jit}, pid ${server.pid}, 127.0.0.1:${server.port}, cluster in ${dir}/data`,
    );
    console.log(server.url);
    return 0;
  }
  const pid = postmasterPid(dir);
  if (pid !== undefined) {
    await stopPostmaster(pid);
    console.error(`stock-postgres: stopped pid ${pid}`);
  }
  rmSync(dir, { recursive: true, force: true });
  return 0;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(`stock-postgres: ${(error as Error).message}`);
    process.exit(1);
  },
);
