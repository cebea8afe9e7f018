import { describeError, probe } from '../api.js';
import { lineChart, PALETTE } from '../charts.js';
import { h, hashParams, hashWith, loading, notice, replace, section, shortId, throttle, time } from '../dom.js';
import { normalizeEpochs } from '../epochs.js';

const RUNS_LIMIT = 200;
const EPOCH_PAGE = 1000;
/** One colour per run: beyond the palette, lines could no longer be told apart. */
const MAX_RUNS = PALETTE.length;

/** The per-epoch figures overlaid, one chart each: the field of normalizeEpochs, the title, the axis format. */
const METRICS = [
  ['actorSurvivalRate', 'Actors alive (share)', (v) => v.toFixed(2)],
  ['needMet', 'Need met / need', (v) => v.toFixed(2)],
  ['payoffEquality', 'Equality of payoffs (1 − Gini)', (v) => v.toFixed(2)],
  ['overUsage', 'Over-usage of the commons', (v) => v.toFixed(2)],
  ['applied', 'Applied proposals'],
  ['rejected', 'Rejected proposals'],
  ['deficitActors', 'Actors in deficit'],
  ['tokens', 'LLM tokens'],
  ['cost', 'Model cost ($)', (v) => v.toFixed(4)],
];

const runLabel = (r) => `${r.scenario ?? 'run'} · ${r.strategy ?? '?'} · seed ${r.seed ?? '?'}`;

/** Every finished epoch of one run, page after page. */
async function runEpochs(runId) {
  const rows = [];
  let from = 0;
  for (;;) {
    const answer = await probe(`/epochs?run_id=${encodeURIComponent(runId)}&from=${from}&limit=${EPOCH_PAGE}`);
    if (answer.status !== 200) throw new Error(`run ${shortId(runId)}: ${describeError(answer.status, answer.body)}`);
    rows.push(...answer.body.epochs);
    if (answer.body.next_from === null || answer.body.next_from === undefined) break;
    from = answer.body.next_from;
  }
  return normalizeEpochs({ epochs: rows }).epochs;
}

/** The run list; `ticked` are the boxes shown checked, `onTick` hears every change before Compare is pressed. */
function picker(runs, ticked, onTick) {
  const boxes = runs.map((r) =>
    h(
      'li',
      { class: 'checkbox' },
      h('input', { type: 'checkbox', id: `run-${r.run_id}`, name: 'run', value: r.run_id, checked: ticked.includes(r.run_id) }),
      h(
        'label',
        { for: `run-${r.run_id}` },
        ` ${runLabel(r)} · ${r.status} · ${r.last_epoch ? `epoch ${r.last_epoch.epoch}` : 'no epoch'} · started ${time(r.started_at)}`,
      ),
    ),
  );
  return h(
    'form',
    {
      id: 'compare-form',
      onchange: (e) => onTick([...e.currentTarget.querySelectorAll('input[name=run]:checked')].map((i) => i.value)),
      onsubmit: (e) => {
        e.preventDefault();
        const ids = [...e.target.querySelectorAll('input[name=run]:checked')].map((i) => i.value);
        location.hash = hashWith('/compare', { runs: ids.join(',') });
      },
    },
    h('ul', { class: 'run-list' }, boxes),
    h('div', { class: 'field actions' }, h('button', { type: 'submit' }, 'Compare')),
  );
}

function charts(series) {
  // Epochs are whole: ticks between them stay unlabelled.
  const epochAxis = { xLabel: 'epoch', xFormat: (v) => (Number.isInteger(v) ? String(v) : ''), legend: true };
  return h(
    'div',
    { class: 'chart-grid' },
    METRICS.map(([key, title, yFormat]) => {
      const lines = series.map(({ name, epochs }) => ({
        name,
        points: epochs.filter((e) => e[key] !== null).map((e) => ({ x: e.epoch, y: e[key], label: `epoch ${e.epoch}` })),
      }));
      if (lines.every((l) => l.points.length === 0)) return null;
      return lineChart({ title, series: lines, ...epochAxis, ...(yFormat ? { yFormat } : {}) });
    }),
  );
}

export function comparePage(main) {
  const status = h('div');
  const controls = h('div', {}, loading('Loading runs…'));
  const slot = h('div');
  main.append(h('h1', {}, 'Compare runs'), status, controls, slot);
  let alive = true;
  // Boxes ticked but not yet compared: a refresh on a new epoch redraws the list with them as the
  // user left them; a new URL (Compare pressed, a link followed) starts from its runs again.
  let ticked = null;

  async function load() {
    const chosen = (hashParams().get('runs') ?? '').split(',').filter(Boolean);
    let answer;
    try {
      answer = await probe(`/runs?limit=${RUNS_LIMIT}`);
    } catch (error) {
      if (alive) replace(status, notice('error', error.message));
      return;
    }
    if (!alive) return;
    if (answer.status !== 200) {
      replace(controls);
      replace(status, notice('error', describeError(answer.status, answer.body)));
      return;
    }
    replace(status);
    const runs = answer.body.runs;
    if (runs.length === 0) {
      replace(controls);
      replace(
        slot,
        h(
          'div',
          { class: 'empty-state', id: 'compare-empty' },
          h('h2', {}, 'No runs yet'),
          h('p', {}, 'Runs appear here once the agents runner (gridgov runner, gridgov start or gridgov experiment) has registered them.'),
        ),
      );
      return;
    }
    replace(
      controls,
      section(
        'Runs',
        h('p', { class: 'muted' }, `Pick up to ${MAX_RUNS} runs to overlay.`),
        picker(runs, ticked ?? chosen, (ids) => (ticked = ids)),
      ),
    );
    const picked = chosen.map((id) => runs.find((r) => r.run_id === id)).filter(Boolean);
    const unknown = chosen.filter((id) => !runs.some((r) => r.run_id === id));
    if (unknown.length) replace(status, notice('error', `No run ${unknown.map(shortId).join(', ')} among the latest ${RUNS_LIMIT}.`));
    else if (picked.length > MAX_RUNS) replace(status, notice('info', `Only the first ${MAX_RUNS} runs are drawn: one colour each.`));
    if (picked.length === 0) {
      replace(slot, h('p', { class: 'muted', id: 'compare-hint' }, 'Tick two or more runs and press Compare.'));
      return;
    }
    replace(slot, loading('Loading epochs…'));
    let series;
    try {
      const shown = picked.slice(0, MAX_RUNS);
      // Two runs may share a label (the same scenario, strategy and seed in another world): the id tells them apart.
      const labels = shown.map(runLabel);
      series = await Promise.all(
        shown.map(async (r, i) => ({
          name: labels.indexOf(labels[i]) === labels.lastIndexOf(labels[i]) ? labels[i] : `${labels[i]} (${shortId(r.run_id)})`,
          epochs: await runEpochs(r.run_id),
        })),
      );
    } catch (error) {
      if (alive) replace(slot, notice('error', error.message));
      return;
    }
    if (!alive) return;
    const most = Math.max(...series.map((s) => s.epochs.length));
    replace(
      slot,
      most === 0
        ? h('p', { class: 'muted', id: 'compare-no-epochs' }, 'These runs have no finished epoch yet.')
        : section(`${series.length} run${series.length === 1 ? '' : 's'} over ${most} epoch${most === 1 ? '' : 's'}`, charts(series)),
    );
  }

  const refresh = throttle(load, 3000);
  load();
  return {
    title: 'Compare',
    onQueryChange: () => {
      ticked = null;
      return load();
    },
    // A run's figures grow as its epochs finish.
    onEvent: (type) => type === 'epoch' && refresh(),
    unmount: () => (alive = false),
  };
}
