import { killEverything } from './processes.ts';
import type { RunSummary } from './report.ts';

/**
 * What `npm run test:chaos` and `npm run test:ha` share as scripts: a log with the time since the
 * start, an exit that kills every child still registered (and whatever `alsoKill` finds), on
 * SIGINT, SIGTERM, a failure or the hard timeout, and the violations printed the same way.
 */
export function harnessScript(prefix: string, alsoKill: () => number[] = () => []) {
  const started = Date.now();
  const log = (line: string) => console.error(`[${prefix} +${((Date.now() - started) / 1000).toFixed(1)}s] ${line}`);
  const killAll = () => [...killEverything(), ...alsoKill()];
  function abort(reason: string, code: number): never {
    const killed = killAll();
    console.error(`${prefix}: ${reason}; killed ${killed.length ? `pids ${killed.join(', ')}` : 'nothing left running'}`);
    process.exit(code);
  }
  process.on('exit', () => killAll());
  process.once('SIGINT', () => abort('interrupted', 130));
  process.once('SIGTERM', () => abort('terminated', 143));
  return {
    log,
    abort,
    /** Ends the whole run with a failure once `ms` have passed. */
    hardTimeout(ms: number): void {
      setTimeout(() => abort(`hard timeout of ${ms / 60_000} min reached`, 2), ms).unref();
    },
    /** Runs main and exits with its code; a throw kills everything and exits 1. */
    run(main: () => Promise<number>): void {
      main().then(
        (code) => process.exit(code),
        (error: unknown) => {
          console.error(error);
          abort('the run failed', 1);
        },
      );
    },
  };
}

export function printViolations(summary: Pick<RunSummary, 'violations'> & { dir: string }): void {
  if (summary.violations.length === 0) {
    console.log('no violations');
    return;
  }
  console.log(`VIOLATIONS (${summary.violations.length}); the run's logs and data are kept in ${summary.dir}`);
  for (const violation of summary.violations.slice(0, 100)) console.log(`  - ${violation}`);
  if (summary.violations.length > 100) console.log(`  … and ${summary.violations.length - 100} more`);
}
