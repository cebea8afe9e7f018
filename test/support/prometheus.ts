import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse, stringify } from 'yaml';
import { waitUntil } from './wait.ts';

export const ALERT_RULES = fileURLToPath(new URL('../../ops/prometheus/alerts.yml', import.meta.url));

/** Debian's prometheus binary, or a message saying how to get it. */
export function prometheusBinary(): { path: string } | { missing: string } {
  const found = spawnSync('sh', ['-c', 'command -v prometheus'], { encoding: 'utf8' });
  const path = found.stdout.trim();
  return path ? { path } : { missing: 'the prometheus binary is not installed (apt-get install prometheus; .ci/run does)' };
}

/** A port free right now on loopback (Prometheus takes no port 0). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return typeof address === 'object' && address ? address.port : 0;
}

/** The shipped alert rules with every `for:` shortened, so a test sees pending turn into firing quickly. */
export function rulesWithShortFor(forDuration: string): string {
  const rules = parse(readFileSync(ALERT_RULES, 'utf8')) as { groups: Array<{ rules: Array<{ for?: string }> }> };
  for (const group of rules.groups) for (const rule of group.rules) if (rule.for) rule.for = forDuration;
  return stringify(rules);
}

export interface PrometheusServer {
  url: string;
  query(expr: string): Promise<Array<{ metric: Record<string, string>; value: [number, string] }>>;
  alerts(): Promise<Array<{ labels: Record<string, string>; state: 'pending' | 'firing'; value: string }>>;
  /** Metric names seen in scrapes (HELP and TYPE), with or without samples. */
  metricNames(): Promise<Set<string>>;
  output(): string;
  stop(): Promise<void>;
}

async function api<T>(url: string): Promise<T> {
  const response = await fetch(url);
  const body = (await response.json()) as { status: string; data: T; error?: string };
  if (body.status !== 'success') throw new Error(`${url}: ${body.error ?? response.status}`);
  return body.data;
}

/**
 * The real Prometheus on loopback, with its own config and storage in a temp folder, scraping
 * `jobs` and evaluating `rules` every second. Stopped (and its folder removed) by stop().
 */
export async function startPrometheus(binary: string, jobs: Record<string, string[]>, rules: string): Promise<PrometheusServer> {
  const dir = mkdtempSync(join(tmpdir(), 'gridgov-prometheus-'));
  writeFileSync(join(dir, 'alerts.yml'), rules);
  const config = {
    global: { scrape_interval: '1s', scrape_timeout: '900ms', evaluation_interval: '1s' },
    rule_files: [join(dir, 'alerts.yml')],
    scrape_configs: Object.entries(jobs).map(([job, targets]) => ({ job_name: job, static_configs: [{ targets }] })),
  };
  writeFileSync(join(dir, 'prometheus.yml'), stringify(config));
  const port = await freePort();
  const child: ChildProcess = spawn(
    binary,
    [
      `--config.file=${join(dir, 'prometheus.yml')}`,
      `--storage.tsdb.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--log.level=warn',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  child.stdout!.on('data', (c: Buffer) => (output += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (output += c.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const url = `http://127.0.0.1:${port}`;
  const stop = async () => {
    if (child.exitCode === null) child.kill('SIGTERM');
    await exited;
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await waitUntil(
      async () => {
        if (child.exitCode !== null) throw new Error(`prometheus exited with ${child.exitCode}:\n${output}`);
        return fetch(`${url}/-/ready`).then(
          (r) => r.ok,
          () => false,
        );
      },
      () => `prometheus ready:\n${output}`,
      { pollMs: 100 },
    );
  } catch (error) {
    await stop();
    throw error;
  }
  return {
    url,
    query: async (expr) =>
      (
        await api<{ result: Array<{ metric: Record<string, string>; value: [number, string] }> }>(
          `${url}/api/v1/query?query=${encodeURIComponent(expr)}`,
        )
      ).result,
    alerts: async () =>
      (await api<{ alerts: Array<{ labels: Record<string, string>; state: 'pending' | 'firing'; value: string }> }>(`${url}/api/v1/alerts`))
        .alerts,
    metricNames: async () => new Set(Object.keys(await api<Record<string, unknown>>(`${url}/api/v1/metadata`))),
    output: () => output,
    stop,
  };
}
