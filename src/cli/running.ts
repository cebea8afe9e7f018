import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Config } from '../config.ts';
import { CONNECTION_FILE } from '../db/embedded.ts';

/**
 * `gridgov start` publishes its validator's URL in DATA_DIR/server.json (beside the embedded
 * database's connection, owner-only), so that `gridgov admin`, `gridgov runner` and `gridgov
 * dashboard` on the same data dir reach it whatever port it took (`PORT=18080 npm start`).
 */
interface Published {
  validator?: { url: string; pid: number };
  [other: string]: unknown;
}

const fileOf = (dataDir: string) => join(resolve(dataDir), CONNECTION_FILE);

function read(file: string): Published {
  try {
    const parsed: unknown = JSON.parse(readFileSync(file, 'utf8'));
    return typeof parsed === 'object' && parsed !== null ? (parsed as Published) : {};
  } catch {
    return {};
  }
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
};

/** Records this process's validator in the data dir; the returned function takes it back out. */
export function publishValidator(dataDir: string, url: string): () => void {
  const file = fileOf(dataDir);
  writeFileSync(file, `${JSON.stringify({ ...read(file), validator: { url, pid: process.pid } })}\n`, { mode: 0o600 });
  return () => {
    const { validator, ...rest } = read(file);
    if (validator?.pid !== process.pid) return;
    if (Object.keys(rest).length === 0) rmSync(file, { force: true });
    else writeFileSync(file, `${JSON.stringify(rest)}\n`, { mode: 0o600 });
  };
}

/** The validator a command talks to: --validator/--url or GRIDGOV_URL, else the running start's, else the default. */
export function validatorUrl(config: Config): string {
  if (config.dashboard.validatorUrlSet) return config.dashboard.validatorUrl;
  const published = read(fileOf(config.dataDir)).validator;
  return published && typeof published.url === 'string' && alive(published.pid) ? published.url : config.dashboard.validatorUrl;
}
