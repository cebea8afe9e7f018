import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import {
  columnCi,
  episodeOrder,
  groupBy,
  meanByEpoch,
  meanCi,
  NON_NEGATIVE,
  RATE,
  type EpochPoint,
  type MeanCi,
  type Range,
} from './summary.ts';
import { writeFileAtomic } from './tables.ts';
import type { EpisodeData, ExperimentMeta } from './types.ts';

/**
 * report.html: one self-contained page (inline CSS and SVG, no script, nothing fetched) comparing
 * the strategies of each scenario: a table of mean ± 95% CI across seeds, and charts of the
 * per-epoch means and of rejections by code, with the command and versions that produced it.
 */

type Row = Record<string, unknown>;

// The Okabe-Ito palette, as the dashboard's charts: distinguishable with common colour-vision deficiencies.
const PALETTE = ['#0072B2', '#E69F00', '#009E73', '#CC79A7', '#56B4E9', '#D55E00', '#8C6D1F', '#000000'];
const W = 560;
const H = 220;
const M = { top: 10, right: 12, bottom: 32, left: 58 };

const escape = (text: string) =>
  text.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;').replaceAll('"', '&quot;').replaceAll("'", '&#39;');

/** A number for people: at most four significant digits, thousands kept whole. */
export function formatNumber(v: number, digits = 4): string {
  if (!Number.isFinite(v)) return '–';
  if (Math.abs(v) >= 1000) return Math.round(v).toLocaleString('en-US');
  return String(Number(v.toPrecision(digits)));
}

function ticks(min: number, max: number, count = 5): number[] {
  if (min === max) return max === 0 ? [0, 1] : ticks(Math.min(0, min), Math.max(0, max) * 1.1 || 1, count);
  const raw = (max - min) / count;
  const power = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * power).find((s) => s >= raw) ?? 10 * power;
  const out: number[] = [];
  for (let v = Math.floor(min / step) * step; v < max + step; v += step) out.push(Number(v.toPrecision(12)));
  return out;
}

interface Series {
  name: string;
  points: EpochPoint[];
}

function figure(title: string, svg: string, legend: string[]): string {
  const items = legend.map(
    (name, i) => `<li><span class="swatch" style="background:${PALETTE[i % PALETTE.length]}"></span>${escape(name)}</li>`,
  );
  return `<figure><figcaption>${escape(title)}</figcaption>${svg}<ul class="legend">${items.join('')}</ul></figure>`;
}

function axes(yTicks: number[], y: (v: number) => number, xTicks: Array<{ at: number; label: string }>, xLabel: string): string {
  const parts = yTicks.map(
    (t) =>
      `<line class="gl" x1="${M.left}" x2="${W - M.right}" y1="${y(t).toFixed(1)}" y2="${y(t).toFixed(1)}"/>` +
      `<text x="${M.left - 6}" y="${(y(t) + 4).toFixed(1)}" text-anchor="end">${escape(formatNumber(t))}</text>`,
  );
  for (const t of xTicks)
    parts.push(`<text x="${t.at.toFixed(1)}" y="${H - M.bottom + 15}" text-anchor="middle">${escape(t.label)}</text>`);
  parts.push(`<line class="axis" x1="${M.left}" x2="${W - M.right}" y1="${H - M.bottom}" y2="${H - M.bottom}"/>`);
  parts.push(`<text x="${(M.left + W - M.right) / 2}" y="${H - 3}" text-anchor="middle">${escape(xLabel)}</text>`);
  return parts.join('');
}

/** Lines over epochs, one per strategy. */
export function lineSvg(title: string, series: Series[]): string {
  const points = series.flatMap((s) => s.points);
  if (points.length === 0) return `<figure><figcaption>${escape(title)}</figcaption><p class="muted">No data.</p></figure>`;
  const xs = points.map((p) => p.x);
  const [x0, x1] = [Math.min(...xs), Math.max(...xs)];
  const yTicks = ticks(Math.min(0, ...points.map((p) => p.low ?? p.y)), Math.max(...points.map((p) => p.high ?? p.y)));
  const [y0, y1] = [yTicks[0]!, yTicks[yTicks.length - 1]!];
  const x = (v: number) => (x1 === x0 ? (M.left + W - M.right) / 2 : M.left + ((v - x0) / (x1 - x0)) * (W - M.left - M.right));
  const y = (v: number) => H - M.bottom - ((v - y0) / (y1 - y0 || 1)) * (H - M.top - M.bottom);
  const xTicks = ticks(x0, x1, 6)
    .filter((t) => t >= x0 && t <= x1 && Number.isInteger(t))
    .map((t) => ({ at: x(t), label: String(t) }));
  // The 95% band across episodes, under the line, where two or more episodes reached the epoch.
  const bands = series.map((s, i) => {
    const banded = s.points.filter((p) => p.low !== undefined && p.high !== undefined);
    if (banded.length < 2) return '';
    const upper = banded.map((p, k) => `${k === 0 ? 'M' : 'L'}${x(p.x).toFixed(1)},${y(p.high!).toFixed(1)}`).join('');
    const lower = [...banded]
      .reverse()
      .map((p) => `L${x(p.x).toFixed(1)},${y(p.low!).toFixed(1)}`)
      .join('');
    return `<path class="band" d="${upper}${lower}Z" fill="${PALETTE[i % PALETTE.length]}" fill-opacity="0.15" stroke="none"/>`;
  });
  const lines = series.map((s, i) => {
    const d = s.points.map((p, k) => `${k === 0 ? 'M' : 'L'}${x(p.x).toFixed(1)},${y(p.y).toFixed(1)}`).join('');
    return `<path d="${d}" fill="none" stroke="${PALETTE[i % PALETTE.length]}" stroke-width="2"><title>${escape(s.name)}</title></path>`;
  });
  const svg = `<svg viewBox="0 0 ${W} ${H}" role="img" aria-label="${escape(title)}">${axes(yTicks, y, xTicks, 'epoch')}${bands.join('')}${lines.join('')}</svg>`;
  return figure(
    title,
    svg,
    series.map((s) => s.name),
  );
}

/** Bars per category (an error code), side by side per strategy. */
export function barSvg(
  title: string,
  categories: string[],
  series: Array<{ name: string; values: number[] }>,
  xLabel = 'error code',
): string {
  if (categories.length === 0)
    return `<figure><figcaption>${escape(title)}</figcaption><p class="muted">No proposal was rejected.</p></figure>`;
  const yTicks = ticks(0, Math.max(...series.flatMap((s) => s.values)));
  const top = yTicks[yTicks.length - 1]!;
  const y = (v: number) => H - M.bottom - (v / (top || 1)) * (H - M.top - M.bottom);
  const band = (W - M.left - M.right) / categories.length;
  const inner = band * 0.8;
  const bars = series.flatMap((s, i) =>
    s.values.map((v, c) => {
      const width = inner / series.length;
      const left = M.left + band * c + (band - inner) / 2 + width * i;
      return `<rect x="${left.toFixed(1)}" y="${y(v).toFixed(1)}" width="${Math.max(0.5, width - 1).toFixed(1)}" height="${(y(0) - y(v)).toFixed(1)}" fill="${PALETTE[i % PALETTE.length]}"><title>${escape(`${categories[c]} · ${s.name}: ${formatNumber(v)}`)}</title></rect>`;
    }),
  );
  const xTicks = categories.map((label, c) => ({
    at: M.left + band * c + band / 2,
    label: label.length > 22 ? `${label.slice(0, 21)}…` : label,
  }));
  const svg = `<svg viewBox="0 0 ${W} ${H}" role="img" aria-label="${escape(title)}">${axes(yTicks, y, xTicks, xLabel)}${bars.join('')}</svg>`;
  return figure(
    title,
    svg,
    series.map((s) => s.name),
  );
}

/** The figures of the comparison table: the runs table's column and how it is headed. */
export const SUMMARY_FIGURES: Array<[column: string, heading: string, range: Range]> = [
  ['survival_rate', 'Survival rate (commons)', RATE],
  ['survival_time', 'Survival time (epochs)', NON_NEGATIVE],
  ['efficiency', 'Efficiency', RATE],
  ['equality', 'Equality of gains (1 − Gini)', RATE],
  ['over_usage_rate', 'Over-usage rate', RATE],
  ['actor_survival_rate', 'Actors alive at the end', RATE],
  ['need_met', 'Need met', RATE],
  ['rejected', 'Rejected proposals', NON_NEGATIVE],
  ['total_tokens', 'Tokens', NON_NEGATIVE],
  ['cost_usd', 'Cost ($)', NON_NEGATIVE],
];

/** The charts over epochs, the commons' stock first: the epochs table's column, the chart's title, the figure's range. */
const EPOCH_CHARTS: Array<[column: string, title: string, range: Range]> = [
  ['stock', 'Commons stock', NON_NEGATIVE],
  ['harvested', 'Harvest taken from the commons', NON_NEGATIVE],
  ['over_usage_rate', 'Over-usage of the commons', RATE],
  ['actor_survival_rate', 'Actors alive (share)', RATE],
  ['need_met', 'Need met / need', RATE],
  ['payoff_equality', 'Equality of payoffs (1 − Gini)', RATE],
  ['rejected', 'Rejected proposals', NON_NEGATIVE],
  ['total_tokens', 'Model tokens', NON_NEGATIVE],
  ['cost_usd', 'Model cost ($)', NON_NEGATIVE],
];

/** Mean ± half-width, or the interval's ends where the figure's range clipped it. */
function cell(ci: MeanCi): string {
  if (ci.n === 0) return '<td>–</td>';
  if (ci.half === null || ci.low === null || ci.high === null) return `<td>${formatNumber(ci.mean)}</td>`;
  const clipped = ci.low > ci.mean - ci.half || ci.high < ci.mean + ci.half;
  return clipped
    ? `<td>${formatNumber(ci.mean)} [${formatNumber(ci.low, 2)}, ${formatNumber(ci.high, 2)}]</td>`
    : `<td>${formatNumber(ci.mean)} ± ${formatNumber(ci.half, 2)}</td>`;
}

/** Each agent's gain (what it harvested in all), mean per episode, per strategy; null without a commons. */
function gainsSvg(strategies: string[], agentsOf: (s: string) => Row[], episodesOf: (s: string) => number): string | null {
  const totals = strategies.map((s) => {
    const byAgent = new Map<string, number>();
    for (const r of agentsOf(s))
      if (typeof r.harvest_granted === 'number') byAgent.set(String(r.agent), (byAgent.get(String(r.agent)) ?? 0) + r.harvest_granted);
    return byAgent;
  });
  const agents = [...new Set(totals.flatMap((t) => [...t.keys()]))].sort();
  if (agents.length === 0) return null;
  return barSvg(
    'Gain per agent (harvest in all), mean per episode',
    agents,
    strategies.map((s, i) => ({ name: s, values: agents.map((a) => (totals[i]!.get(a) ?? 0) / episodesOf(s)) })),
    'agent',
  );
}

/**
 * Inside mixed episodes, what each kind got: per agent of the kind, its gain (harvest in all) and
 * its final payoff, each the mean across episodes with its interval. Free-riding shows here.
 */
function kindsTable(byStrategy: Map<string, EpisodeData[]>): string {
  const rows: string[] = [];
  for (const [strategy, list] of byStrategy) {
    if (!strategy.includes('+')) continue;
    const perKind = new Map<string, { gain: number[]; payoff: number[]; agents: number }>();
    for (const e of list) {
      const agents = e.agents as Row[];
      const last = Math.max(...agents.map((r) => Number(r.epoch)));
      for (const kind of new Set(agents.map((r) => String(r.kind)))) {
        const mine = agents.filter((r) => String(r.kind) === kind);
        const names = new Set(mine.map((r) => r.agent));
        const sum = (rows: Row[], column: string) => rows.reduce((t, r) => t + (typeof r[column] === 'number' ? r[column] : 0), 0);
        const k = perKind.get(kind) ?? perKind.set(kind, { gain: [], payoff: [], agents: names.size }).get(kind)!;
        k.gain.push(sum(mine, 'harvest_granted') / names.size);
        k.payoff.push(
          sum(
            mine.filter((r) => r.epoch === last),
            'payoff',
          ) / names.size,
        );
      }
    }
    for (const [kind, k] of [...perKind].sort(([a], [b]) => (a < b ? -1 : 1)))
      rows.push(
        `<tr><th scope="row">${escape(strategy)}</th><td>${escape(kind)}</td><td>${k.agents}</td>${cell(meanCi(k.gain, NON_NEGATIVE))}${cell(meanCi(k.payoff))}</tr>`,
      );
  }
  if (rows.length === 0) return '';
  return `<h3>Payoffs per kind in mixed episodes</h3>
<table><thead><tr><th scope="col">Population</th><th scope="col">Kind</th><th scope="col">Agents</th><th scope="col">Gain per agent</th><th scope="col">Final payoff per agent</th></tr></thead><tbody>${rows.join('')}</tbody></table>`;
}

function scenarioSection(scenario: string, episodes: EpisodeData[]): string {
  const byStrategy = groupBy(episodes, (e) => e.meta.strategy);
  const strategies = [...byStrategy.keys()];
  const runs = (s: string) => byStrategy.get(s)!.flatMap((e) => e.runs);
  const epochs = (s: string) => byStrategy.get(s)!.flatMap((e) => e.epochs);
  const figures = SUMMARY_FIGURES.filter(([column]) => strategies.some((s) => columnCi(runs(s), column).n > 0));
  const head = `<tr><th scope="col">Strategy</th><th scope="col">Seeds</th>${figures.map(([, h]) => `<th scope="col">${escape(h)}</th>`).join('')}</tr>`;
  const body = strategies.map(
    (s) =>
      `<tr><th scope="row">${escape(s)}</th><td>${runs(s).length}</td>${figures.map(([column, , range]) => cell(columnCi(runs(s), column, range))).join('')}</tr>`,
  );
  const lines = EPOCH_CHARTS.filter(([column]) => strategies.some((s) => meanByEpoch(epochs(s), column).length > 0)).map(
    ([column, title, range]) =>
      lineSvg(
        `${title}, mean per epoch with its 95% band`,
        strategies.map((s) => ({ name: s, points: meanByEpoch(epochs(s), column, range) })),
      ),
  );
  // The stock leads, then each agent's gain; panels for figures no episode has are left out.
  const gains = gainsSvg(
    strategies,
    (s) => byStrategy.get(s)!.flatMap((e) => e.agents as Row[]),
    (s) => byStrategy.get(s)!.length,
  );
  // With a commons there are gains, and its stock is the first line chart.
  const charts = gains ? [lines[0]!, gains, ...lines.slice(1)] : lines;
  const rejections = episodes.flatMap((e) => e.rejections);
  const codes = [...new Set(rejections.map((r) => String(r.code)))].sort();
  charts.push(
    barSvg(
      'Rejections by code, mean per episode',
      codes,
      strategies.map((s) => {
        const rows = byStrategy.get(s)!.flatMap((e) => e.rejections as Row[]);
        const n = byStrategy.get(s)!.length;
        return { name: s, values: codes.map((c) => rows.filter((r) => r.code === c).length / n) };
      }),
    ),
  );
  return `<section><h2>Scenario ${escape(scenario)}</h2>
<p class="muted">Mean ± half-width of the 95% confidence interval across seeds (Student's t with n − 1 degrees of freedom), or [its ends] where the figure's range clips it; no interval with one seed.</p>
<table><thead>${head}</thead><tbody>${body.join('')}</tbody></table>
${kindsTable(byStrategy)}
<div class="grid">${charts.join('')}</div></section>`;
}

const STYLE = `body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;color:#1b1f24;margin:24px auto;max-width:1200px;padding:0 16px}
h1{font-size:22px}h2{font-size:18px;margin-top:28px}code,pre{font:13px ui-monospace,Menlo,Consolas,monospace}
pre{background:#f4f6f8;padding:10px;border-radius:4px;white-space:pre-wrap;word-break:break-all}
table{border-collapse:collapse;margin:8px 0}th,td{border-bottom:1px solid #d8dee4;padding:4px 10px;text-align:right}
th[scope=row],thead th:first-child{text-align:left}.muted{color:#57606a}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(520px,1fr));gap:16px}
figure{margin:0;border:1px solid #d8dee4;border-radius:6px;padding:8px}figcaption{font-weight:600;margin-bottom:4px}
svg{width:100%;height:auto}svg text{font-size:11px;fill:#57606a}svg .gl{stroke:#eaeef2}svg .axis{stroke:#8c959f}
.legend{list-style:none;padding:0;margin:4px 0 0;display:flex;flex-wrap:wrap;gap:4px 14px}.swatch{display:inline-block;width:10px;height:10px;margin-right:5px;border-radius:2px}`;

/** The response cache's part in the episodes' model calls, when any model was asked. */
function cacheParagraph(episodes: readonly EpisodeData[]): string {
  const runs = episodes.flatMap((e) => e.runs);
  const sum = (column: string) => runs.reduce((total, r) => total + (typeof r[column] === 'number' ? r[column] : 0), 0);
  const calls = sum('llm_calls');
  if (calls === 0) return '';
  const hits = sum('llm_cache_hits');
  return `<p>Model calls: ${calls}, of which ${hits} (${formatNumber((hits / calls) * 100)}%) answered by the response cache: ${hits} calls and $${formatNumber(sum('llm_saved_usd'))} saved.</p>`;
}

/** The episodes a budget kept from ending: named, so a reader knows what the comparison lacks. */
function notRunSection(meta: ExperimentMeta): string {
  if (!meta.not_run?.length) return '';
  const rows = meta.not_run
    .map(
      (e) =>
        `<tr><th scope="row">${escape(e.scenario)}</th><td>${escape(e.strategy)}</td><td>${escape(e.seed)}</td><td>${e.epochs_done}</td></tr>`,
    )
    .join('');
  return `<h2>Did not run</h2><p>${meta.not_run.length} episode${meta.not_run.length === 1 ? '' : 's'} did not run to the end (the budget stopped the work); they are not in the tables.</p>
<table><thead><tr><th scope="col">Scenario</th><th scope="col">Strategy</th><th scope="col">Seed</th><th scope="col">Epochs done</th></tr></thead><tbody>${rows}</tbody></table>`;
}

/** The whole page as a string. */
export function reportHtml(episodes: readonly EpisodeData[], meta: ExperimentMeta): string {
  // A failed episode stopped early: its figures would drag its strategy's mean, so it is counted, not compared.
  const byScenario = groupBy(
    episodes.filter((e) => e.meta.status === 'finished').sort((a, b) => episodeOrder(a.meta, b.meta)),
    (e) => e.meta.scenario,
  );
  const failed = episodes.filter((e) => e.meta.status === 'failed').length;
  const versions = Object.entries(meta.versions)
    .map(([k, v]) => `<tr><th scope="row">${escape(k)}</th><td><code>${escape(v)}</code></td></tr>`)
    .join('');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Experiment ${escape(meta.experiment_id)}</title><style>${STYLE}</style></head>
<body><h1>Experiment ${escape(meta.experiment_id)}</h1>
<p>${episodes.length} episode${episodes.length === 1 ? '' : 's'}${failed ? `, ${failed} failed (left out of the comparison; the tables have what they finished)` : ''}, from ${escape(meta.started_at)} to ${escape(meta.finished_at)}.</p>
<h2>Produced by</h2><pre>${escape(meta.command)}</pre>
<table><tbody>${versions}</tbody></table>
${cacheParagraph(episodes)}
${notRunSection(meta)}
${[...byScenario.entries()].map(([scenario, list]) => scenarioSection(scenario, list)).join('\n')}
</body></html>
`;
}

export async function writeReport(dir: string, episodes: readonly EpisodeData[], meta: ExperimentMeta): Promise<string> {
  await mkdir(dir, { recursive: true });
  const path = join(dir, 'report.html');
  await writeFileAtomic(path, reportHtml(episodes, meta));
  return path;
}
