import { spawn, type ChildProcess } from 'node:child_process';
import { after, before } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';
import { pino } from 'pino';
import { createValidatorApp } from '../../src/api/validator.ts';
import { loadConfig, type Env } from '../../src/config.ts';
import type { Db } from '../../src/db/db.ts';
import { createTestDatabase, type TestDatabase } from './db.ts';
import { seedTestScenario } from './scenario.ts';
import { waitUntil } from './wait.ts';

export const ADMIN_KEY = 'test-bootstrap-key-0123456789';
export const BIN = fileURLToPath(new URL('../../bin/gridgov', import.meta.url));

export interface TestValidator {
  url: string;
  app: FastifyInstance;
  close(): Promise<void>;
}

/** The real validator app on a real loopback socket, in this process. */
export async function startValidator(db: Db, env: Env = {}): Promise<TestValidator> {
  const config = loadConfig({ GRIDGOV_ADMIN_KEY: ADMIN_KEY, GRIDGOV_VALIDATOR_VERSION: 'test', ...env });
  const app = await createValidatorApp({ db, config, logger: pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' }) });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return { url: `http://127.0.0.1:${port}`, app, close: () => app.close() };
}

export interface SeededValidator {
  t: TestDatabase;
  v: TestValidator;
  /**
   * Settles once t and v are set. A file's top-level `before` hooks start together, so one that
   * needs the validator (a proxy or a dashboard in front of it) awaits this first.
   */
  ready: Promise<void>;
}

/**
 * For a test file: a database of its own seeded with the test world, and a validator on it,
 * started before the file's tests and stopped after them. The fields are set once `before` ran;
 * `prepare` runs on the seeded database before the validator starts (keys, extra rows).
 */
export function useSeededValidator(
  options: { poolSize?: number; env?: Env; prepare?: (t: TestDatabase) => Promise<void> } = {},
): SeededValidator {
  let started!: () => void;
  const world = { ready: new Promise<void>((resolve) => (started = resolve)) } as SeededValidator;
  before(async () => {
    world.t = await createTestDatabase(options.poolSize);
    await seedTestScenario(world.t.db);
    await options.prepare?.(world.t);
    world.v = await startValidator(world.t.db, options.env);
    started();
  });
  after(async () => {
    await world.v?.close();
    await world.t?.drop();
  });
  return world;
}

export interface ValidatorProcess {
  url: string;
  child: ChildProcess;
  output: () => string;
  /** Waits for the process to end (after a signal). */
  exited: Promise<number | null>;
}

/** `gridgov validator` as its own process, as an operator would run it. */
export async function spawnValidator(databaseUrl: string, env: Env = {}): Promise<ValidatorProcess> {
  const child = spawn(process.execPath, [BIN, 'validator', '--port', '0'], {
    env: { ...process.env, DATABASE_URL: databaseUrl, GRIDGOV_ADMIN_KEY: ADMIN_KEY, LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const url = await new Promise<string>((resolve, reject) => {
    // Generous: a busy machine may take long to start a process; this only names a hang.
    const timer = setTimeout(() => reject(new Error(`validator did not start:\n${output}`)), 90_000);
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      const match = /listening on (http:\/\/\S+)/.exec(output);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]!);
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`validator exited with ${code}:\n${output}`));
    });
  });
  return { url, child, output: () => output, exited };
}

export interface HttpReply<T = any> {
  status: number;
  body: T;
}

export async function http<T = any>(
  base: string,
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<HttpReply<T>> {
  const response = await fetch(`${base}${path}`, {
    method,
    headers: body === undefined ? headers : { 'content-type': 'application/json', ...headers },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await response.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // not JSON: keep the text
  }
  return { status: response.status, body: parsed as T };
}

export const bearer = (key: string) => ({ authorization: `Bearer ${key}` });

/**
 * Polls GET /health until `accept` holds for the reply. /health reads the background verifier's
 * verdict, so a change is seen within one verification interval; the limit only names a state that
 * never came.
 */
export async function waitForHealth(base: string, accept: (reply: HttpReply) => boolean, timeoutMs = 60_000): Promise<HttpReply> {
  let reply: HttpReply | undefined;
  await waitUntil(
    async () => accept((reply = await http(base, 'GET', '/health'))),
    () => `/health in the expected state, last: ${JSON.stringify(reply?.body)}`,
    { timeoutMs, pollMs: 25 },
  );
  return reply!;
}

/** Runs `gridgov <args>` against a database to completion, as an operator would. */
export async function runCli(
  args: string[],
  databaseUrl: string,
  env: Env = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [BIN, ...args], {
    env: { ...process.env, DATABASE_URL: databaseUrl, LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
  return { code, stdout, stderr };
}
