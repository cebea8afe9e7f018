import { describeError, probe } from '../api.js';
import { barChart, lineChart } from '../charts.js';
import { field, h, hashParams, hashWith, loading, notice, replace, section, select, throttle } from '../dom.js';
import { keysOf, normalizeEpochs } from '../epochs.js';

const LIMIT = 1000;

function emptyState(id, title, ...text) {
  return h('div', { class: 'empty-state', id }, h('h2', {}, title), ...text.map((t) => h('p', {}, t)));
}

const perResource = (epochs, field) =>
  keysOf(epochs, field).map((name) => ({
    name,
    points: epochs.map((e) => ({ x: e.epoch, y: e[field][name] ?? 0, label: `epoch ${e.epoch}` })),
  }));

function charts(epochs) {
  const labels = epochs.map((e) => String(e.epoch));
  const codes = keysOf(epochs, 'rejectedByCode');
  const epochAxis = { xLabel: 'epoch', xFormat: (v) => String(Math.round(v)) };
  return h(
    'div',
    { class: 'chart-grid' },
    // One chart per resource: each on its own scale, so credits do not flatten the others.
    ...perResource(epochs, 'supply').map((series) =>
      lineChart({ title: `Held by actors: ${series.name}`, series: [series], ...epochAxis }),
    ),
    epochs.some((e) => e.alive !== null)
      ? lineChart({
          title: 'Survival (actors still trading)',
          series: [
            {
              name: 'alive',
              points: epochs.map((e) => ({ x: e.epoch, y: e.alive ?? 0, label: `epoch ${e.epoch}: ${e.alive} of ${e.total}` })),
            },
          ],
          step: true,
          ...epochAxis,
        })
      : null,
    keysOf(epochs, 'stock').length
      ? lineChart({ title: 'Commons stock', series: perResource(epochs, 'stock'), legend: true, ...epochAxis })
      : null,
    barChart({
      title: 'Applied vs rejected proposals',
      categories: labels,
      series: [
        { name: 'applied', values: epochs.map((e) => e.applied) },
        { name: 'rejected', values: epochs.map((e) => e.rejected) },
      ],
      xLabel: 'epoch',
    }),
    barChart({
      title: 'Rejections by error code',
      categories: labels,
      series: codes.map((c) => ({ name: c, values: epochs.map((e) => e.rejectedByCode[c] ?? 0) })),
      stacked: true,
      legend: true,
      xLabel: 'epoch',
      empty: 'No proposal was rejected in these epochs.',
    }),
    lineChart({
      title: 'Unmet need per resource',
      series: perResource(epochs, 'unmet'),
      legend: true,
      ...epochAxis,
      empty: 'Every need was met in these epochs.',
    }),
    lineChart({
      title: 'Gini per resource',
      series: perResource(epochs, 'gini'),
      legend: true,
      ...epochAxis,
      yFormat: (v) => v.toFixed(2),
    }),
    lineChart({
      title: 'Actors in deficit',
      series: [{ name: 'actors in deficit', points: epochs.map((e) => ({ x: e.epoch, y: e.deficitActors })) }],
      ...epochAxis,
    }),
    epochs.some((e) => e.tokens > 0)
      ? barChart({
          title: 'LLM tokens per epoch',
          categories: labels,
          series: [{ name: 'tokens', values: epochs.map((e) => e.tokens) }],
          xLabel: 'epoch',
        })
      : null,
    epochs.some((e) => e.cost > 0)
      ? barChart({
          title: 'Model cost per epoch ($)',
          categories: labels,
          series: [{ name: 'dollars', values: epochs.map((e) => e.cost) }],
          xLabel: 'epoch',
          yFormat: (v) => v.toFixed(4),
        })
      : null,
  );
}

export function chartsPage(main) {
  const status = h('div');
  const controls = h('div');
  const slot = h('div', {}, loading('Loading epochs…'));
  main.append(h('h1', {}, 'Charts over epochs'), status, controls, slot);
  let alive = true;
  let runId = hashParams().get('run_id') ?? '';

  async function load() {
    let answer;
    try {
      answer = await probe(`/epochs?limit=${LIMIT}${runId ? `&run_id=${encodeURIComponent(runId)}` : ''}`);
    } catch (error) {
      if (alive) replace(status, notice('error', error.message));
      return;
    }
    if (!alive) return;
    replace(status);
    if (answer.status === 404 && answer.body?.error_code === 'NOT_FOUND' && /no route/.test(answer.body?.message ?? '')) {
      replace(controls);
      replace(
        slot,
        emptyState(
          'epochs-unavailable',
          'Epoch history is not available',
          'This validator does not serve GET /epochs: it arrives with the agents runner. Every other page works without it.',
          'Once the runner records epochs, balances, trades, rejections and unmet need over time appear here.',
        ),
      );
      return;
    }
    if (answer.status !== 200) {
      replace(slot);
      replace(status, notice('error', describeError(answer.status, answer.body)));
      return;
    }
    const { runs, epochs } = normalizeEpochs(answer.body);
    replace(
      controls,
      runs.length > 1
        ? h(
            'form',
            {
              class: 'filters',
              onsubmit: (e) => {
                e.preventDefault();
                location.hash = hashWith('/charts', { run_id: e.target.elements.run.value });
              },
            },
            field(
              'Run',
              select(
                runs.map((r) => [r.id, `${r.scenario ?? 'run'} · ${r.strategy ?? ''} · seed ${r.seed ?? '?'}`]),
                { name: 'run', value: runId || runs[0].id },
              ),
            ),
            h('div', { class: 'field actions' }, h('button', { type: 'submit' }, 'Show run')),
          )
        : runs.length === 1
          ? h(
              'p',
              { class: 'muted' },
              `Run ${runs[0].scenario ?? ''} · ${runs[0].strategy ?? ''} · seed ${runs[0].seed ?? '?'}${runs[0].status ? ` · ${runs[0].status}` : ''}`,
            )
          : null,
    );
    if (epochs.length === 0) {
      replace(
        slot,
        emptyState(
          'epochs-empty',
          'No epochs recorded yet',
          'Start the agents runner (gridgov runner, or gridgov start) and the charts fill in as each epoch finishes.',
        ),
      );
      return;
    }
    replace(slot, section(`${epochs.length} epoch${epochs.length === 1 ? '' : 's'}`, charts(epochs)));
  }

  const refresh = throttle(load, 3000);
  load();
  return {
    title: 'Charts',
    onQueryChange() {
      runId = hashParams().get('run_id') ?? '';
      load();
    },
    // Epoch stats land after an epoch's trades: re-read when the ledger moves, at most every 3 s.
    onEvent: (type) => type !== 'breaker' && refresh(),
    unmount: () => (alive = false),
  };
}
