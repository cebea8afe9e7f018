import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import * as prompts from '../agents/prompts.ts';
import type { Db } from '../db/db.ts';
import { canonicalJson } from '../domain/canonical-json.ts';
import type { Scenario } from '../domain/scenario.ts';
import { scenarioDigest } from '../runs/registry.ts';
import type { ModelSpec } from './models.ts';
import { episodeScenario, type ExperimentSpec } from './spec.ts';

/**
 * What went into an experiment, enough to say whether a replay or a fork would see the same inputs:
 * recorded in the database when the experiment is defined and written to its folder as manifest.json.
 */
export interface Manifest {
  manifest_version: 1;
  experiment_id: string;
  command: string;
  /**
   * Each scenario as given (`sha256`: the run registry's digest, which the experiment's id uses),
   * and per strategy the key-order-free hash of the scenario its episodes ran (a heuristic kind
   * rewrites the actors).
   */
  scenarios: Array<{ name: string; sha256: string; contents: unknown; episode_sha256: Record<string, string> }>;
  seeds: string[];
  strategies: string[];
  epochs: number;
  fork: { run_id: string; epoch: number } | null;
  models: Record<string, ModelSpec>;
  /** SHA-256 of each prompt builder, schema and the system instruction, as this build has them. */
  prompts: Record<string, string>;
  versions: { validator: string; gridgov: string; node: string; packages: Record<string, string> };
}

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

/**
 * Each top-level export of src/agents/prompts.ts as written, by name: a function's text as it runs
 * depends on how it was compiled (tsx in development, esbuild's dist/ for `gridgov`), so two
 * processes of one build would disagree. Empty where the source is not shipped.
 */
function promptSources(): Map<string, string> {
  let text: string;
  try {
    text = readFileSync(new URL('../../src/agents/prompts.ts', import.meta.url), 'utf8');
  } catch {
    return new Map();
  }
  const starts = [...text.matchAll(/^export (?:async )?(?:function\*? |const |let )(\w+)/gm)];
  return new Map(starts.map((m, i) => [m[1]!, text.slice(m.index, starts[i + 1]?.index ?? text.length)]));
}

/** The prompt templates of this build: the system instruction, each prompt builder and parser, each schema. */
export function promptHashes(): Record<string, string> {
  const sources = promptSources();
  const textOf = (name: string, value: unknown) =>
    typeof value === 'function' ? (sources.get(name) ?? (value as () => unknown).toString()) : JSON.stringify(value);
  return Object.fromEntries(
    Object.entries(prompts)
      .map(([name, value]) => [name, sha256(textOf(name, value))] as const)
      .sort(([a], [b]) => (a < b ? -1 : 1)),
  );
}

function packageVersions(): { gridgov: string; packages: Record<string, string> } {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
    version: string;
    dependencies?: Record<string, string>;
  };
  return { gridgov: pkg.version, packages: pkg.dependencies ?? {} };
}

/**
 * A scenario's hash whatever the order of its keys: a run's definition comes back from jsonb with
 * its records' keys reordered, so the order-sensitive digest of the run registry cannot compare it.
 */
export const canonicalDigest = (scenario: Scenario): string => sha256(canonicalJson(scenario));

export function buildManifest(experimentId: string, command: string, spec: ExperimentSpec, validatorVersion: string): Manifest {
  return {
    manifest_version: 1,
    experiment_id: experimentId,
    command,
    scenarios: spec.scenarios.map((s) => ({
      name: s.name,
      sha256: scenarioDigest(s),
      contents: s,
      episode_sha256: Object.fromEntries(spec.strategies.map((st) => [st, canonicalDigest(episodeScenario(s, st).scenario)])),
    })),
    seeds: spec.seeds,
    strategies: spec.strategies,
    epochs: spec.epochs,
    fork: spec.fork ? { run_id: spec.fork.run.run_id, epoch: spec.fork.epoch } : null,
    models: spec.models ?? {},
    prompts: promptHashes(),
    versions: { validator: validatorVersion, ...packageVersions(), node: process.version },
  };
}

/** The first definition's manifest stays: a resumed experiment keeps what it was started with. */
export async function recordManifest(db: Db, manifest: Manifest): Promise<void> {
  await db.query('INSERT INTO experiment_manifests (experiment_id, manifest) VALUES ($1, $2) ON CONFLICT (experiment_id) DO NOTHING', [
    manifest.experiment_id,
    JSON.stringify(manifest),
  ]);
}

export async function getManifest(db: Db, experimentId: string): Promise<Manifest | undefined> {
  const { rows } = await db.query<{ manifest: Manifest }>('SELECT manifest FROM experiment_manifests WHERE experiment_id = $1', [
    experimentId,
  ]);
  return rows[0]?.manifest;
}

/** The manifest of the experiment whose episode ran the run (the newest such episode), if any. */
export async function manifestOfRun(db: Db, runId: string): Promise<Manifest | undefined> {
  const { rows } = await db.query<{ manifest: Manifest }>(
    `SELECT m.manifest FROM experiment_episodes e JOIN experiment_manifests m USING (experiment_id)
      WHERE e.run_id = $1 ORDER BY e.finished_at DESC NULLS LAST LIMIT 1`,
    [runId],
  );
  return rows[0]?.manifest;
}

/**
 * What changed between a recorded manifest and this build, in words: each prompt template, the
 * validator version, the package versions. Empty when a replay would see the same inputs.
 */
export function changedInputs(recorded: Manifest, validatorVersion: string): string[] {
  const now = buildManifest(
    recorded.experiment_id,
    recorded.command,
    { scenarios: [], strategies: [], seeds: [], epochs: 0 },
    validatorVersion,
  );
  const changes: string[] = [];
  const keys = [...new Set([...Object.keys(recorded.prompts), ...Object.keys(now.prompts)])].sort();
  for (const name of keys)
    if (recorded.prompts[name] !== now.prompts[name])
      changes.push(
        recorded.prompts[name] === undefined
          ? `prompt template ${name} is new`
          : now.prompts[name] === undefined
            ? `prompt template ${name} is gone`
            : `prompt template ${name} changed`,
      );
  if (recorded.versions.validator !== now.versions.validator)
    changes.push(`validator version ${recorded.versions.validator} is now ${now.versions.validator}`);
  for (const name of [...new Set([...Object.keys(recorded.versions.packages), ...Object.keys(now.versions.packages)])].sort())
    if (recorded.versions.packages[name] !== now.versions.packages[name])
      changes.push(`package ${name} ${recorded.versions.packages[name] ?? '(absent)'} is now ${now.versions.packages[name] ?? '(absent)'}`);
  return changes;
}

/** A run's scenario checked against the manifest's hashes: a stored definition changed behind the record's back. */
export function scenarioChanged(recorded: Manifest, scenario: Scenario): string | undefined {
  const entry = recorded.scenarios.find((s) => s.name === scenario.name);
  if (!entry) return undefined;
  const digest = canonicalDigest(scenario);
  const known = Object.values(entry.episode_sha256);
  return known.includes(digest)
    ? undefined
    : `scenario ${scenario.name}: the run's definition (${digest.slice(0, 12)}) is none the experiment recorded`;
}
