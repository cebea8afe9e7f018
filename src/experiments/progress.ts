import type { EpisodeRow } from './registry.ts';

/**
 * The experiment's progress line on stderr: episodes done of all, epochs per second over the last
 * stretch, and the cost so far. On a terminal it redraws one line; elsewhere it prints a line when
 * an episode ends, and at most every ten seconds otherwise.
 */
export function createProgress(stream: NodeJS.WriteStream = process.stderr, now: () => number = Date.now) {
  const tty = stream.isTTY === true;
  let first: { at: number; epochs: number } | undefined;
  let lastDone = -1;
  let lastPrint = 0;
  let width = 0;
  let drawn = '';
  return {
    // For the log: a line written while the bar is drawn goes above it (cli/logger.ts).
    erase: () => (tty && width > 0 ? `\r${' '.repeat(width)}\r` : ''),
    draw: () => (tty && width > 0 ? drawn : ''),
    update(episodes: readonly EpisodeRow[]): void {
      const done = episodes.filter((e) => e.status === 'finished' || e.status === 'failed').length;
      const failed = episodes.filter((e) => e.status === 'failed').length;
      const epochs = episodes.reduce((sum, e) => sum + e.epochs_done, 0);
      const cost = episodes.reduce((sum, e) => sum + e.cost_usd, 0);
      const t = now();
      first ??= { at: t, epochs };
      const seconds = (t - first.at) / 1000;
      const rate = seconds > 0 ? (epochs - first.epochs) / seconds : 0;
      const total = Math.max(1, episodes.length);
      const bar = '#'.repeat(Math.round((done / total) * 20)).padEnd(20, '.');
      const line = `[${bar}] ${done}/${episodes.length} episodes${failed ? ` (${failed} failed)` : ''}  ${rate.toFixed(1)} epochs/s  $${cost.toFixed(4)}`;
      if (tty) {
        drawn = `\r${line}`;
        stream.write(`\r${line.padEnd(width)}`);
        width = line.length;
      } else if (done !== lastDone || t - lastPrint >= 10_000) {
        stream.write(`${line}\n`);
        lastPrint = t;
      }
      lastDone = done;
    },
    end(): void {
      if (tty && width > 0) stream.write('\n');
      width = 0;
    },
  };
}
