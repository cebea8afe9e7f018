import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startEmbeddedPostgres, waitForExit } from '../../src/db/embedded.ts';
import { startStockPostgres } from '../support/stock-postgres.ts';
import { BIN } from '../support/validator.ts';

/**
 * The processes a chaos run starts, each stopped by its own PID: `gridgov` children (validators,
 * the dispatcher) and the embedded PostgreSQL. Every one is registered so that a failure or the
 * hard timeout can still end them all.
 */

export const live = new Set<number>();

/** Last resort (hard timeout, process exit): SIGKILL every child still registered. */
export function killEverything(): number[] {
  const killed: number[] = [];
  for (const pid of live) {
    try {
      process.kill(pid, 'SIGKILL');
      killed.push(pid);
    } catch {
      // already gone
    }
  }
  live.clear();
  return killed;
}

export interface ExitRecord {
  name: string;
  pid: number;
  code: number | null;
  signal: NodeJS.Signals | null;
  at: number;
}

/**
 * A `gridgov` command run as a child process, restartable with the same arguments (and so the same
 * port). An exit the harness did not cause is reported through `onUnexpectedExit`.
 */
export class GridgovProcess {
  child: ChildProcess | undefined;
  starts = 0;
  readyLine = '';
  private expected = new Set<number>();
  private starting: Promise<void> = Promise.resolve();

  constructor(
    readonly name: string,
    private readonly args: string[],
    private readonly env: NodeJS.ProcessEnv,
    private readonly readyPattern: RegExp,
    private readonly logFile: string,
    private readonly onUnexpectedExit: (exit: ExitRecord) => void,
  ) {}

  get pid(): number | undefined {
    return this.child?.exitCode === null && this.child.signalCode === null ? this.child.pid : undefined;
  }

  /**
   * Starts the command unless it runs already, and waits for its ready line; a start that fails
   * is tried again. Starts are serialised, so a fault lane and a crash restart cannot race.
   */
  start(attempts = 20): Promise<void> {
    const next = this.starting.then(() => (this.pid === undefined ? this.startWithRetries(attempts) : undefined));
    this.starting = next.catch(() => undefined);
    return next;
  }

  private async startWithRetries(attempts: number): Promise<void> {
    let lastError: unknown;
    for (let attempt = 0; attempt < attempts; attempt++) {
      try {
        await this.startOnce();
        return;
      } catch (error) {
        lastError = error;
        // Exit code 2 is a usage or configuration error: trying again cannot help.
        if ((error as { exitCode?: number }).exitCode === 2) break;
        await new Promise((r) => setTimeout(r, 250 * (attempt + 1)));
      }
    }
    throw new Error(`${this.name} did not start: ${String(lastError)}`);
  }

  private async startOnce(): Promise<void> {
    this.readyLine = '';
    let ready = false;
    const log = openSync(this.logFile, 'a');
    const child = spawn(process.execPath, [BIN, ...this.args], { env: this.env, stdio: ['ignore', 'pipe', log] });
    closeSync(log);
    this.child = child;
    this.starts++;
    const pid = child.pid!;
    live.add(pid);
    let output = '';
    const started = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${this.name} printed no ready line within 30 s`)), 30_000);
      child.stdout!.on('data', (chunk: Buffer) => {
        if (ready) return;
        output += chunk.toString();
        const match = this.readyPattern.exec(output);
        if (match) {
          ready = true;
          this.readyLine = match[0];
          clearTimeout(timer);
          resolve();
        }
      });
      child.once('exit', (code, signal) => {
        clearTimeout(timer);
        reject(
          Object.assign(new Error(`${this.name} exited (${code ?? signal}) before it was ready; see ${this.logFile}`), { exitCode: code }),
        );
      });
    });
    child.once('exit', (code, signal) => {
      live.delete(pid);
      if (this.expected.delete(pid) || !ready) return;
      this.onUnexpectedExit({ name: this.name, pid, code, signal, at: Date.now() });
    });
    try {
      await started;
    } catch (error) {
      this.expected.add(pid);
      child.kill('SIGKILL');
      throw error;
    }
  }

  /** Sends a signal by PID and waits for the process to be gone. */
  async kill(signal: NodeJS.Signals = 'SIGKILL', timeoutMs = 10_000): Promise<void> {
    const pid = this.pid;
    if (pid === undefined) return;
    this.expected.add(pid);
    const exited = new Promise<void>((resolve) => this.child!.once('exit', () => resolve()));
    process.kill(pid, signal);
    const done = await Promise.race([exited.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), timeoutMs))]);
    if (!done) {
      process.kill(pid, 'SIGKILL');
      await exited;
    }
  }
}

interface ChaosServer {
  url: string;
  pid: number;
  stop(): Promise<void>;
}

/** PostgreSQL (embedded or stock) on a fixed port, so it can be crashed and started again in place. */
export class ChaosPostgres {
  server: ChaosServer | undefined;
  starts = 0;

  constructor(
    readonly dataDir: string,
    readonly port: number,
    /** `stock`: Debian's postgresql package as shipped (test/support/stock-postgres.ts). */
    readonly kind: 'embedded' | 'stock' = 'embedded',
  ) {}

  async start(): Promise<ChaosServer> {
    this.server =
      this.kind === 'stock'
        ? await startStockPostgres({ dir: this.dataDir, port: this.port, keep: true })
        : await startEmbeddedPostgres({ dataDir: this.dataDir, port: this.port });
    this.starts++;
    live.add(this.server.pid);
    return this.server;
  }

  /** The cluster directory: the stock server's DIR/data, else DATA_DIR/pg or where cluster-location says it was moved. */
  private pgData(): string {
    if (this.kind === 'stock') return join(this.dataDir, 'data');
    const moved = join(this.dataDir, 'cluster-location');
    return existsSync(moved) ? readFileSync(moved, 'utf8').trim() : join(this.dataDir, 'pg');
  }

  /** The postmaster's PID as PostgreSQL itself records it. */
  postmasterPid(): number {
    const pid = Number(readFileSync(join(this.pgData(), 'postmaster.pid'), 'utf8').split('\n')[0]);
    if (!Number.isInteger(pid) || pid <= 0) throw new Error('postmaster.pid holds no PID');
    return pid;
  }

  /**
   * Immediate shutdown: SIGQUIT to the postmaster, which ends every backend at once without a
   * checkpoint, as a crash would; the next start runs crash recovery from the WAL.
   */
  async crash(): Promise<number> {
    const pid = this.postmasterPid();
    process.kill(pid, 'SIGQUIT');
    if (!(await waitForExit(pid, 15_000))) {
      process.kill(pid, 'SIGKILL');
      await waitForExit(pid, 5_000);
    }
    live.delete(pid);
    return pid;
  }

  /** Fast shutdown (SIGINT), as at the end of a run. */
  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    await server.stop();
    live.delete(server.pid);
  }
}
