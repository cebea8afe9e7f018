import { loadConfig } from '../config.ts';
import { readStoredAdminKey } from './admin-key.ts';
import { validatorUrl } from './running.ts';
import { parseFlags, UsageError } from './args.ts';
import type { Command } from './args.ts';

const USAGE = [
  'gridgov admin balance --actor A --resource R --amount N',
  '       gridgov admin reset-credit --actor A',
  '       gridgov admin circuit-breaker --on --reason TEXT | --off',
  '       gridgov admin audit [--limit N] [--cursor ID]',
  '       (all take --url URL, default $GRIDGOV_URL, then the validator `gridgov start` runs on the data dir, then http://127.0.0.1:8080, and --key KEY, default $GRIDGOV_API_KEY, $GRIDGOV_ADMIN_KEY, then the data dir admin-key)',
].join('\n');

/** The admin API from the command line: prints the JSON answer; exits 1 when the API refuses. */
export const command: Command = {
  summary: 'Admin overrides over the API: balance, reset-credit, circuit-breaker, audit',
  usage: USAGE,
  async run(args) {
    const { values, positionals } = parseFlags(args, {
      url: { type: 'string' },
      key: { type: 'string' },
      actor: { type: 'string' },
      resource: { type: 'string' },
      amount: { type: 'string' },
      on: { type: 'boolean' },
      off: { type: 'boolean' },
      reason: { type: 'string' },
      limit: { type: 'string' },
      cursor: { type: 'string' },
    });
    const config = loadConfig(process.env, { validator: values.url, 'data-dir': values['data-dir'] });
    // --url or GRIDGOV_URL, else the validator `gridgov start` runs on this data dir.
    const base = validatorUrl(config);
    const key = values.key ?? config.apiKey ?? config.adminKey ?? readStoredAdminKey(config.dataDir);
    const need = (name: keyof typeof values) => {
      const value = values[name];
      if (typeof value !== 'string' || value === '') throw new UsageError(`--${name} is required`);
      return value;
    };
    let request: { method: string; path: string; body?: unknown };
    switch (positionals[0]) {
      case 'balance':
        request = {
          method: 'POST',
          path: '/admin/balance',
          body: { actor_id: need('actor'), resource: need('resource'), amount: need('amount') },
        };
        break;
      case 'reset-credit':
        request = { method: 'POST', path: '/admin/reset-credit', body: { actor_id: need('actor') } };
        break;
      case 'circuit-breaker':
        if (Boolean(values.on) === Boolean(values.off)) throw new UsageError('give exactly one of --on or --off');
        request = {
          method: 'POST',
          path: '/admin/circuit-breaker',
          body: { enabled: Boolean(values.on), ...(values.reason ? { reason: values.reason } : {}) },
        };
        break;
      case 'audit': {
        const query = new URLSearchParams();
        if (values.limit) query.set('limit', values.limit);
        if (values.cursor) query.set('cursor', values.cursor);
        request = { method: 'GET', path: `/admin/audit${query.size ? `?${query}` : ''}` };
        break;
      }
      default:
        throw new UsageError('expected balance, reset-credit, circuit-breaker or audit');
    }
    const response = await fetch(`${base}${request.path}`, {
      method: request.method,
      headers: { ...(key ? { authorization: `Bearer ${key}` } : {}), ...(request.body ? { 'content-type': 'application/json' } : {}) },
      body: request.body ? JSON.stringify(request.body) : undefined,
      signal: AbortSignal.timeout(30_000),
    }).catch((error: unknown) => {
      throw new Error(`cannot reach ${base}: ${(error as Error).message}`);
    });
    const text = await response.text();
    let body: unknown = text;
    try {
      body = JSON.parse(text);
    } catch {
      // print as text
    }
    if (!response.ok) {
      const err = body as { error_code?: string; message?: string };
      console.error(`gridgov admin: ${response.status} ${err.error_code ?? ''}: ${err.message ?? text}`);
      return 1;
    }
    console.log(JSON.stringify(body, null, 2));
    return 0;
  },
};
