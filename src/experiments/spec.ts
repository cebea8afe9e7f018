import { Character, StrategyName } from '../agents/types.ts';
import { deriveId } from '../domain/ids.ts';
import type { Scenario } from '../domain/scenario.ts';
import { scenarioDigest } from '../runs/registry.ts';
import type { ModelSpec } from './models.ts';
import type { StoredRun } from './replay.ts';

/**
 * What an experiment is: scenarios × strategies × seeds, each episode run for `epochs` epochs,
 * optionally from a stored run's world as of one of its epochs. Everything a worker on another
 * machine needs is here (the scenarios' definitions, not their file names).
 */
export interface ExperimentSpec {
  scenarios: Scenario[];
  strategies: string[];
  seeds: string[];
  epochs: number;
  /** Episodes start from this stored run's world as of `epoch` (its epochs 1..epoch are replayed first). */
  fork?: { epoch: number; run: StoredRun };
  /** The model behind each model strategy (src/experiments/models.ts); absent when none is used. */
  models?: Record<string, ModelSpec>;
  /** `--fresh`: a token that makes this a new experiment rather than the resumption of an identical one. */
  fresh?: string;
}

export interface EpisodeSpec {
  episode_id: string;
  ordinal: number;
  scenario: string;
  strategy: string;
  seed: string;
}

/** A bad flag value: the CLI turns it into a usage error naming the flag. */
export class SpecError extends Error {}

const KINDS = Object.values(Character);
const NAMES = Object.values(StrategyName);

/**
 * An episode's strategy: a strategy every agent uses (heuristic, gemini, openai-compatible), a
 * heuristic kind every agent takes (`heuristic:greedy`, `heuristic:naive`, `heuristic:cooperative`),
 * or a model strategy with the model it uses (`openai-compatible:llama3.1:8b`, `gemini:gemini-2.5-pro`).
 */
export function parseStrategies(raw: string): string[] {
  const list = raw
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  if (list.length === 0) throw new SpecError('--strategies names no strategy');
  for (const s of list) {
    const colon = s.indexOf(':');
    const [name, rest] = colon < 0 ? [s, undefined] : [s.slice(0, colon), s.slice(colon + 1)];
    const known =
      NAMES.includes(name as StrategyName) &&
      (rest === undefined || (name === 'heuristic' ? KINDS.includes(rest as Character) : /^[\w.:/@+-]{1,200}$/.test(rest)));
    if (!known)
      throw new SpecError(
        `--strategies: unknown strategy "${s}"; use ${NAMES.join(', ')}, heuristic:KIND with KIND one of ${KINDS.join(', ')}, ` +
          'or gemini:MODEL, openai-compatible:MODEL',
      );
  }
  return [...new Set(list)];
}

/** Seeds as a list and ranges: `1-5`, `7,9`, `1-3,10`. */
export function parseSeeds(raw: string): string[] {
  const seeds: string[] = [];
  for (const part of raw.split(',').map((s) => s.trim())) {
    const range = /^(\d+)-(\d+)$/.exec(part);
    if (range) {
      const [from, to] = [Number(range[1]), Number(range[2])];
      if (to < from || to - from > 10_000) throw new SpecError(`--seeds: the range "${part}" is empty or too long`);
      for (let s = from; s <= to; s++) seeds.push(String(s));
    } else if (/^[\w.-]{1,64}$/.test(part)) seeds.push(part);
    else throw new SpecError(`--seeds: "${part}" is neither a seed nor a range like 1-5`);
  }
  return [...new Set(seeds)];
}

/** The scenario an episode runs and the strategy the runner gives every agent. */
export function episodeScenario(scenario: Scenario, strategy: string): { scenario: Scenario; override?: StrategyName } {
  const [name, kind] = strategy.split(':') as [StrategyName, Character | undefined];
  if (!kind || name !== 'heuristic') return { scenario, override: name };
  return { scenario: { ...scenario, actors: scenario.actors.map((a) => ({ ...a, strategy: 'heuristic' as const, character: kind })) } };
}

/**
 * The same experiment asked for again (same scenarios, strategies, seeds, epochs, fork, models and
 * their settings and prices) of the same
 * record (`where`: the database holding it) has the same id, so it resumes; `--fresh` asks for a
 * new one (its episodes' run ids stay the same: they follow from scenario, seed and strategy).
 */
export function experimentIdFor(spec: ExperimentSpec, where: string): string {
  return deriveId(
    'experiment',
    where,
    spec.scenarios.map((s) => scenarioDigest(s)).join(','),
    spec.strategies.join(','),
    spec.seeds.join(','),
    spec.epochs,
    spec.fork ? `${spec.fork.run.run_id}:${spec.fork.epoch}` : '',
    ...(spec.models && Object.keys(spec.models).length ? [JSON.stringify(spec.models)] : []),
    ...(spec.fresh ? [spec.fresh] : []),
  );
}

/** Every (scenario, strategy, seed) episode, in a fixed order. */
export function episodesOf(experimentId: string, spec: ExperimentSpec): EpisodeSpec[] {
  const episodes: EpisodeSpec[] = [];
  for (const scenario of spec.scenarios)
    for (const strategy of spec.strategies)
      for (const seed of spec.seeds)
        episodes.push({
          episode_id: deriveId('episode', experimentId, scenario.name, strategy, seed),
          ordinal: episodes.length,
          scenario: scenario.name,
          strategy,
          seed,
        });
  return episodes;
}
