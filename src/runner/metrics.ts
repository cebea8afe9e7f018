import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { RecordedStats } from './runner.ts';

/**
 * The runner's own series, fed from each epoch's recorded stats: how long epochs take, what their
 * proposals became, and what the language models cost: the epoch's cost as the stats price it,
 * per model (GEMINI_PRICE_* and OPENAI_PRICE_*).
 */
export function runnerMetrics(registry: Registry) {
  const counter = (name: string, help: string, labelNames: string[] = []) => new Counter({ name, help, labelNames, registers: [registry] });
  const duration = new Histogram({
    name: 'gridgov_runner_epoch_duration_seconds',
    help: 'Wall time of one epoch: settlement, negotiation, trades and stats.',
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300],
    registers: [registry],
  });
  const lastEpoch = new Gauge({ name: 'gridgov_runner_last_epoch', help: 'The last epoch this runner finished.', registers: [registry] });
  const epochs = counter('gridgov_runner_epochs_total', 'Epochs finished by this runner.');
  const proposals = counter('gridgov_runner_proposals_total', 'Proposals sent, by result: applied, rejected, conflict, malformed.', [
    'result',
  ]);
  const rejections = counter('gridgov_runner_rejections_total', 'Proposals the validator rejected, by error code.', ['error_code']);
  const calls = counter('gridgov_runner_model_calls_total', 'Language-model calls made by the agents.');
  const errors = counter('gridgov_runner_model_errors_total', 'Language-model calls that failed, timed out or answered out of schema.');
  const tokens = counter('gridgov_runner_model_tokens_total', 'Language-model tokens, by kind: prompt or completion.', ['kind']);
  const cost = counter(
    'gridgov_runner_model_cost_usd_total',
    'Language-model cost in US dollars, priced per model (GEMINI_PRICE_*, OPENAI_PRICE_*).',
  );
  for (const result of ['applied', 'rejected', 'conflict', 'malformed']) proposals.inc({ result }, 0);
  for (const kind of ['prompt', 'completion']) tokens.inc({ kind }, 0);

  return {
    epochRecorded(stats: RecordedStats): void {
      duration.observe(stats.duration_ms / 1000);
      epochs.inc();
      lastEpoch.set(stats.epoch);
      const p = stats.proposals;
      proposals.inc({ result: 'applied' }, p.applied);
      proposals.inc({ result: 'rejected' }, p.rejected);
      proposals.inc({ result: 'conflict' }, p.conflicts);
      proposals.inc({ result: 'malformed' }, p.malformed);
      for (const [code, n] of Object.entries(p.rejected_by_code)) rejections.inc({ error_code: code }, n);
      calls.inc(stats.llm.calls);
      errors.inc(stats.llm.errors);
      tokens.inc({ kind: 'prompt' }, stats.llm.prompt_tokens);
      tokens.inc({ kind: 'completion' }, stats.llm.completion_tokens);
      cost.inc(stats.llm.cost_usd ?? 0);
    },
  };
}
