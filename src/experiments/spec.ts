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

/** One part of a population: a strategy (with its heuristic kind) and how many agents take it; no count, the rest. */
export interface PopulationPart {
  name: StrategyName;
  kind?: Character;
  /** The model a model strategy names (`openai-compatible:MODEL`); else the configured one. */
  model?: string;
  count?: number;
}

const usage =
  `use ${NAMES.join(', ')}, heuristic:KIND with KIND one of ${KINDS.join(', ')}, or gemini:MODEL, openai-compatible:MODEL; ` +
  'mix them as heuristic:cooperative*3+heuristic:greedy*2';

/**
 * An episode's population: one strategy every agent uses (`heuristic`, `gemini`, …), one heuristic
 * kind every agent takes (`heuristic:greedy`), a model strategy with the model it uses
 * (`openai-compatible:llama3.1:8b`, `gemini:gemini-2.5-pro`), or a mix, parts joined by `+`, each
 * with `*N` agents (`heuristic:cooperative*3+heuristic:greedy*2`); the last part may leave out `*N`
 * and take the agents left (`heuristic:greedy*1+heuristic:cooperative`, a greedy newcomer among
 * cooperators). A mix holds at most one model strategy, whose model the episode records.
 */
export function parsePopulation(raw: string): PopulationPart[] {
  const parts = raw.split('+').map((part, i, all) => {
    const match = /^([a-z-]+)(?::([\w.:/@-]{1,200}?))?(?:\*(\d{1,4}))?$/.exec(part.trim());
    const name = match?.[1] as StrategyName | undefined;
    const qualifier = match?.[2];
    const known =
      name && NAMES.includes(name) && (qualifier === undefined || name !== 'heuristic' || KINDS.includes(qualifier as Character));
    if (!match || !known) throw new SpecError(`--strategies: unknown strategy "${part}"; ${usage}`);
    const kind = name === 'heuristic' ? (qualifier as Character | undefined) : undefined;
    const model = name !== 'heuristic' ? qualifier : undefined;
    const count = match[3] === undefined ? undefined : Number(match[3]);
    if (count === 0) throw new SpecError(`--strategies: "${part}" gives the part no agent`);
    if (all.length > 1 && count === undefined && i < all.length - 1)
      throw new SpecError(`--strategies: in "${raw}" only the last part may leave out *N (it takes the agents left)`);
    return { name: name!, ...(kind ? { kind } : {}), ...(model ? { model } : {}), ...(count !== undefined ? { count } : {}) };
  });
  if (parts.filter((p) => p.name !== 'heuristic').length > 1)
    throw new SpecError(`--strategies: "${raw}" mixes more than one model strategy; an episode records one model`);
  return parts;
}

/** The episodes' strategies, comma-separated, each a population (parsePopulation). */
export function parseStrategies(raw: string): string[] {
  const list = raw
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  if (list.length === 0) throw new SpecError('--strategies names no strategy');
  for (const s of list) parsePopulation(s);
  return [...new Set(list)];
}

/** A mix must fit the scenario: its counts cover every agent, no more and no fewer. */
export function checkPopulation(scenario: Scenario, strategy: string): void {
  const parts = parsePopulation(strategy);
  if (parts.length === 1 && parts[0]!.count === undefined) return;
  const counted = parts.reduce((n, p) => n + (p.count ?? 0), 0);
  const open = parts.some((p) => p.count === undefined);
  const actors = scenario.actors.length;
  if (counted > actors || (!open && counted !== actors) || (open && counted === actors))
    throw new SpecError(
      `--strategies: "${strategy}" names ${counted} agents${open ? ' and the rest' : ''}, but scenario "${scenario.name}" has ${actors}`,
    );
}

/** The label of an agent's kind in exports: its strategy, with the heuristic's character. */
export const kindLabel = (strategy: string, character: Character | undefined) =>
  strategy === 'heuristic' ? `heuristic:${character ?? Character.cooperative}` : strategy;

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

/**
 * The scenario an episode runs and the strategy the runner gives every agent: a plain strategy
 * overrides every agent's; a kind or a mix is written into the actors, in the scenario's order.
 */
export function episodeScenario(scenario: Scenario, strategy: string): { scenario: Scenario; override?: StrategyName } {
  const parts = parsePopulation(strategy);
  if (parts.length === 1 && !parts[0]!.kind && parts[0]!.count === undefined) return { scenario, override: parts[0]!.name };
  checkPopulation(scenario, strategy);
  const each = parts.flatMap((p) => Array.from({ length: p.count ?? scenario.actors.length }, () => p));
  return {
    scenario: {
      ...scenario,
      actors: scenario.actors.map((a, i) => {
        const p = each[i]!;
        return { ...a, strategy: p.name, ...(p.kind ? { character: p.kind } : {}) };
      }),
    },
  };
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
