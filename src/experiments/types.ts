import type { ModelSpec } from './models.ts';

/** One experiment episode: one run of one scenario and strategy under one seed, in its own database. */
export interface EpisodeMeta {
  experiment_id: string;
  episode_id: string;
  scenario: string;
  strategy: string;
  seed: string;
  /** The model behind the strategy; null for heuristic strategies. */
  model?: ModelSpec | null;
  epochs: number;
  run_id: string;
  database: string;
  status: 'finished' | 'failed';
  cost_usd: number;
  started_at: string;
  finished_at: string;
}

/** What produced an experiment: the command line and the versions of the pieces involved. */
export interface ExperimentMeta {
  experiment_id: string;
  command: string;
  versions: Record<string, string>;
  started_at: string;
  finished_at: string;
  /** Episodes that had not ended when the files were written (a budget stopped the work). */
  not_run?: Array<{ scenario: string; strategy: string; seed: string; epochs_done: number }>;
}

/** Everything collected from one finished episode's database, one array per exported table. */
export interface EpisodeData {
  meta: EpisodeMeta;
  runs: Record<string, unknown>[];
  epochs: Record<string, unknown>[];
  agents: Record<string, unknown>[];
  rejections: Record<string, unknown>[];
}
