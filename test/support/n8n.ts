import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { once } from 'node:events';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * Runs an n8n workflow headless with the real n8n pinned in n8n/package.json (install it with
 * `npm ci --prefix n8n`). Each call gets a fresh N8N_USER_FOLDER (its own SQLite database,
 * encryption key and task-runner port), imports the workflow file, then runs it with
 * `n8n execute --id=<the file's id> --rawOutput`, which starts at the workflow's Manual Trigger.
 * Nothing is sent anywhere but the servers the workflow itself calls: telemetry, version checks,
 * templates and licence renewal are switched off. See docs/n8n.md.
 */

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const N8N_DIR = join(ROOT, 'n8n');

export interface RunN8nWorkflowOptions {
  /** Path to a workflow JSON carrying a fixed top-level `id` (at most 21 characters). */
  workflowFile: string;
  /** Extra environment for n8n (VALIDATOR_URL, GEMINI_BASE_URL, ...); wins over the defaults below. */
  env?: Record<string, string | undefined>;
  /** For import and execute together; on expiry the process group gets SIGTERM, then SIGKILL 2 s later (by PID). Default 120 s. */
  timeoutMs?: number;
  /** Keep the temporary N8N_USER_FOLDER (its database.sqlite holds the execution) for debugging. */
  keepUserFolder?: boolean;
}

export interface RunN8nWorkflowResult {
  /** Exit code of `n8n execute` (or of the import when that failed); null when killed. */
  code: number | null;
  stdout: string;
  stderr: string;
  /** The execution (n8n's IRun: data.resultData.runData, status, ...) parsed from stdout, if any. */
  output: any;
  timedOut: boolean;
  durationMs: number;
  /** Wall time of `n8n execute` alone (start-up included), without the import. */
  executeMs: number;
  userFolder: string;
}

export function n8nBinary(): string {
  return join(N8N_DIR, 'node_modules', '.bin', 'n8n');
}

/** True when `npm ci --prefix n8n` has run, including sqlite3's native build. */
export function n8nInstalled(): boolean {
  return existsSync(n8nBinary()) && existsSync(join(N8N_DIR, 'node_modules', 'sqlite3', 'build', 'Release', 'node_sqlite3.node'));
}

async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((done) => server.close(() => done()));
  return port;
}

/** Only what n8n needs from the caller's environment, so a developer's N8N_* or proxy settings stay out. */
function baseEnv(): Record<string, string> {
  const keep = ['PATH', 'LANG', 'LC_ALL', 'SYSTEMROOT'];
  const env: Record<string, string> = {};
  for (const key of keep) {
    const value = process.env[key];
    if (value !== undefined) env[key] = value;
  }
  return env;
}

interface ProcessResult {
  code: number | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
}

function run(args: string[], env: Record<string, string>, cwd: string, deadline: number): Promise<ProcessResult> {
  return new Promise((resolvePromise, reject) => {
    // Own process group, so a timeout also ends the task-runner child that n8n spawns.
    const child = spawn(n8nBinary(), args, { cwd, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const kill = (signal: NodeJS.Signals) => {
      if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
      try {
        process.kill(-child.pid, signal);
      } catch {
        try {
          child.kill(signal);
        } catch {
          /* already gone */
        }
      }
    };
    let hardKill: NodeJS.Timeout | undefined;
    const timer = setTimeout(
      () => {
        timedOut = true;
        kill('SIGTERM');
        hardKill = setTimeout(() => kill('SIGKILL'), 2_000);
      },
      Math.max(0, deadline - Date.now()),
    );
    child.on('error', (err) => {
      clearTimeout(timer);
      clearTimeout(hardKill);
      reject(err);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      clearTimeout(hardKill);
      // A runner left behind in the group (n8n died hard) must not outlive the call.
      kill('SIGKILL');
      resolvePromise({ code, stdout, stderr, timedOut });
    });
  });
}

/**
 * The execution JSON that `n8n execute --rawOutput` prints (pretty, so its outermost braces are
 * the only lines that are exactly "{" and "}"). Log lines may surround it: a failed execution is
 * followed by the error and its stack.
 */
export function parseExecutionOutput(stdout: string): any {
  const lines = stdout.split(/\r?\n/);
  for (let start = lines.length - 1; start >= 0; start--) {
    if (lines[start] !== '{') continue;
    const end = lines.indexOf('}', start + 1);
    if (end === -1) continue;
    try {
      return JSON.parse(lines.slice(start, end + 1).join('\n'));
    } catch {
      /* not it; an earlier '{' may start it */
    }
  }
  return undefined;
}

/** The items each run of a node produced on its first output, e.g. nodeRuns(output, 'POST /execute'). */
export function nodeRuns(output: any, nodeName: string, outputIndex = 0): any[][] {
  const runs: any[] = output?.data?.resultData?.runData?.[nodeName] ?? [];
  return runs.map((r) => (r?.data?.main?.[outputIndex] ?? []).map((item: any) => item.json));
}

export async function runN8nWorkflow(options: RunN8nWorkflowOptions): Promise<RunN8nWorkflowResult> {
  const { workflowFile, timeoutMs = 120_000, keepUserFolder = false } = options;
  if (!n8nInstalled()) throw new Error('n8n is not installed: run `npm ci --prefix n8n`');
  const workflow = JSON.parse(readFileSync(workflowFile, 'utf8')) as { id?: unknown };
  if (typeof workflow.id !== 'string' || workflow.id.length === 0 || workflow.id.length > 21) {
    throw new Error(`${workflowFile} needs a fixed top-level "id" of 1 to 21 characters`);
  }

  const started = Date.now();
  const deadline = started + timeoutMs;
  const userFolder = mkdtempSync(join(tmpdir(), 'gridgov-n8n-'));
  const env: Record<string, string> = {
    ...baseEnv(),
    HOME: userFolder,
    TZ: 'UTC',
    GENERIC_TIMEZONE: 'UTC',
    N8N_USER_FOLDER: userFolder,
    DB_TYPE: 'sqlite',
    N8N_ENCRYPTION_KEY: randomBytes(24).toString('hex'),
    // Task runners are always on in n8n 2.x (N8N_RUNNERS_ENABLED is deprecated); give each call
    // its own broker port so parallel runs do not collide on the default 5679.
    N8N_RUNNERS_MODE: 'internal',
    N8N_RUNNERS_BROKER_PORT: String(await freePort()),
    N8N_RUNNERS_BROKER_LISTEN_ADDRESS: '127.0.0.1',
    // The workflow reads its endpoints with $env and derives UUIDv5 ids with require('crypto').
    N8N_BLOCK_ENV_ACCESS_IN_NODE: 'false',
    NODE_FUNCTION_ALLOW_BUILTIN: 'crypto',
    // No calls home.
    N8N_DIAGNOSTICS_ENABLED: 'false',
    N8N_VERSION_NOTIFICATIONS_ENABLED: 'false',
    N8N_VERSION_NOTIFICATIONS_WHATS_NEW_ENABLED: 'false',
    N8N_TEMPLATES_ENABLED: 'false',
    N8N_PERSONALIZATION_ENABLED: 'false',
    N8N_HIRING_BANNER_ENABLED: 'false',
    N8N_DYNAMIC_BANNERS_ENABLED: 'false',
    N8N_LICENSE_AUTO_RENEW_ENABLED: 'false',
    N8N_COMMUNITY_PACKAGES_ENABLED: 'false',
    N8N_AI_ENABLED: 'false',
    // `n8n execute` prints the execution through its logger at level info.
    N8N_LOG_LEVEL: 'info',
    N8N_LOG_OUTPUT: 'console',
    N8N_NO_COLOR: 'true',
    NO_COLOR: '1',
  };
  for (const [key, value] of Object.entries(options.env ?? {})) {
    if (value === undefined) delete env[key];
    else env[key] = value;
  }

  try {
    const imported = await run(['import:workflow', `--input=${resolve(workflowFile)}`], env, userFolder, deadline);
    if (imported.code !== 0 || imported.timedOut) {
      return {
        ...imported,
        output: undefined,
        durationMs: Date.now() - started,
        executeMs: 0,
        userFolder,
      };
    }
    const executeStarted = Date.now();
    const executed = await run(['execute', `--id=${workflow.id}`, '--rawOutput'], env, userFolder, deadline);
    return {
      ...executed,
      stdout: imported.stdout + executed.stdout,
      stderr: imported.stderr + executed.stderr,
      output: parseExecutionOutput(executed.stdout),
      durationMs: Date.now() - started,
      executeMs: Date.now() - executeStarted,
      userFolder,
    };
  } finally {
    if (!keepUserFolder) rmSync(userFolder, { recursive: true, force: true });
  }
}
