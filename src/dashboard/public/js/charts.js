// Small hand-written SVG charts: lines and bars with axes, a legend and the numbers in a table
// (for screen readers and for reading exact values). Colours are the Okabe-Ito palette, which
// stays distinguishable with the common colour-vision deficiencies.
import { h, num, short } from './dom.js';

const SVG = 'http://www.w3.org/2000/svg';
export const PALETTE = ['#0072B2', '#E69F00', '#009E73', '#CC79A7', '#56B4E9', '#D55E00', '#8C6D1F', '#000000'];
const W = 640;
const H = 240;
const M = { top: 12, right: 16, bottom: 34, left: 64 };

function s(tag, attrs = {}, ...children) {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) if (v !== undefined && v !== null) el.setAttribute(k, String(v));
  for (const c of children) if (c !== null && c !== undefined) el.append(c instanceof Node ? c : String(c));
  return el;
}

/** Round tick values covering [min, max]: steps of 1, 2 or 5 times a power of ten. */
export function niceTicks(min, max, count = 5) {
  if (!Number.isFinite(min) || !Number.isFinite(max)) return [0];
  // An all-zero series sits on a 0..1 axis, not around a negative half nobody has.
  if (min === 0 && max === 0) return niceTicks(0, 1, count);
  if (min === max) {
    const pad = Math.abs(min) > 0 ? Math.abs(min) * 0.1 : 1;
    return niceTicks(min - pad, max + pad, count);
  }
  const raw = (max - min) / count;
  const power = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * power).find((st) => st >= raw) ?? 10 * power;
  const ticks = [];
  for (let v = Math.floor(min / step) * step; v <= max + step * 1e-9; v += step) ticks.push(Number(v.toPrecision(12)));
  if (ticks[ticks.length - 1] < max) ticks.push(Number((ticks[ticks.length - 1] + step).toPrecision(12)));
  return ticks;
}

let chartCount = 0;

function frame({ title, description, legend, showLegend, table }) {
  const id = `chart-${++chartCount}`;
  const svg = s('svg', {
    viewBox: `0 0 ${W} ${H}`,
    role: 'img',
    'aria-labelledby': `${id}-title`,
    class: 'chart-svg',
    preserveAspectRatio: 'xMidYMid meet',
  });
  svg.append(s('title', { id: `${id}-title` }, description ? `${title}: ${description}` : title));
  const figure = h(
    'figure',
    { class: 'chart', id },
    h('figcaption', {}, title),
    svg,
    legend && (showLegend ?? legend.length > 1)
      ? h(
          'ul',
          { class: 'legend' },
          legend.map((name, i) => h('li', {}, h('span', { class: `swatch swatch-${i % PALETTE.length}`, 'aria-hidden': 'true' }), name)),
        )
      : null,
    table ? h('details', { class: 'chart-data' }, h('summary', {}, 'Show the numbers'), table) : null,
  );
  return { figure, svg };
}

function axes(svg, { xTicks, yTicks, x, y, xFormat, yFormat, xLabel }) {
  const g = s('g', { class: 'axes' });
  for (const t of yTicks) {
    g.append(s('line', { x1: M.left, x2: W - M.right, y1: y(t), y2: y(t), class: 'gridline' }));
    g.append(s('text', { x: M.left - 6, y: y(t) + 4, 'text-anchor': 'end', class: 'tick' }, yFormat(t)));
  }
  for (const t of xTicks) {
    const label = xFormat(t.label ?? t.value);
    const lines = Array.isArray(label) ? label : [label];
    const text = s('text', { x: x(t.value), y: H - M.bottom + 16, 'text-anchor': 'middle', class: 'tick' });
    lines.forEach((line, i) => text.append(s('tspan', { x: x(t.value), dy: i === 0 ? 0 : 12 }, line)));
    if (t.full && t.full !== lines.join(' ')) text.append(s('title', {}, t.full));
    g.append(text);
  }
  g.append(s('line', { x1: M.left, x2: W - M.right, y1: H - M.bottom, y2: H - M.bottom, class: 'axis' }));
  if (xLabel) g.append(s('text', { x: (M.left + W - M.right) / 2, y: H - 4, 'text-anchor': 'middle', class: 'axis-label' }, xLabel));
  svg.append(g);
}

function emptyChart(title, message) {
  return h('figure', { class: 'chart chart-empty' }, h('figcaption', {}, title), h('p', { class: 'muted' }, message));
}

function dataTable(headers, rows) {
  return h(
    'table',
    { class: 'compact' },
    h(
      'thead',
      {},
      h(
        'tr',
        {},
        headers.map((c, i) => h('th', { scope: 'col', class: i > 0 ? 'num' : undefined }, c)),
      ),
    ),
    h(
      'tbody',
      {},
      rows.map((r) =>
        h(
          'tr',
          {},
          r.map((c, i) => (i === 0 ? h('th', { scope: 'row' }, c) : h('td', { class: 'num' }, c))),
        ),
      ),
    ),
  );
}

/**
 * Lines over a numeric x; `legend` forces the legend on (or off) whatever the number of series. series: [{ name, points: [{ x, y, label? }] }]. `step` draws each value
 * until the next one (balances change at entries, not between them).
 */
export function lineChart({
  title,
  description,
  series,
  xLabel,
  xFormat = short,
  yFormat = short,
  step = false,
  legend,
  empty = 'No data yet.',
}) {
  const all = series.flatMap((sr) => sr.points);
  if (all.length === 0) return emptyChart(title, empty);
  const xs = all.map((p) => p.x);
  const ys = all.map((p) => p.y);
  const yTicks = niceTicks(Math.min(0, ...ys), Math.max(...ys));
  const [x0, x1] = [Math.min(...xs), Math.max(...xs)];
  const x = (v) => (x1 === x0 ? (M.left + W - M.right) / 2 : M.left + ((v - x0) / (x1 - x0)) * (W - M.left - M.right));
  const [y0, y1] = [yTicks[0], yTicks[yTicks.length - 1]];
  const y = (v) => H - M.bottom - ((v - y0) / (y1 - y0 || 1)) * (H - M.top - M.bottom);
  const xTicks = niceTicks(x0, x1, 6)
    .filter((t) => t >= x0 && t <= x1)
    .map((value) => ({ value }));
  const xValues = [...new Set(xs)].sort((a, b) => a - b);
  const table = dataTable(
    [xLabel ?? 'x', ...series.map((sr) => sr.name)],
    xValues.slice(-200).map((xv) => [xFormat(xv), ...series.map((sr) => num(sr.points.find((p) => p.x === xv)?.y))]),
  );
  const { figure, svg } = frame({ title, description, legend: series.map((sr) => sr.name), showLegend: legend, table });
  axes(svg, { xTicks: xTicks.length ? xTicks : [{ value: x0 }], yTicks, x, y, xFormat, yFormat, xLabel });
  series.forEach((sr, i) => {
    const points = sr.points.slice().sort((a, b) => a.x - b.x);
    if (points.length === 0) return;
    let d = `M${x(points[0].x).toFixed(1)},${y(points[0].y).toFixed(1)}`;
    for (let k = 1; k < points.length; k++) {
      const [px, py] = [x(points[k].x).toFixed(1), y(points[k].y).toFixed(1)];
      d += step ? `H${px}V${py}` : `L${px},${py}`;
    }
    const color = PALETTE[i % PALETTE.length];
    svg.append(s('path', { d, fill: 'none', stroke: color, 'stroke-width': 2, class: 'series', 'data-series': sr.name }));
    if (points.length <= 60) {
      for (const p of points) {
        svg.append(
          s(
            'circle',
            { cx: x(p.x), cy: y(p.y), r: 3, fill: color },
            s('title', {}, `${sr.name}: ${num(p.y)} at ${p.label ?? xFormat(p.x)}`),
          ),
        );
      }
    }
  });
  return figure;
}

/**
 * Bars per category. series: [{ name, values: [number per category] }]; stacked or side by side.
 */
/** Pixels per character of a tick label, near enough for the 11px sans-serif of the axes. */
const CHAR_PX = 6.6;
/** More bars than this are a blur: consecutive categories are summed into this many bars at most. */
const MAX_BARS = 60;

/** A category label in at most two lines that fit `width` pixels: split at `_` or spaces, else cut. */
export function fitLabel(label, width) {
  const room = Math.max(3, Math.floor(width / CHAR_PX));
  if (label.length <= room) return [label];
  const cut = (text) => (text.length <= room ? text : `${text.slice(0, room - 1)}…`);
  const parts = label.split(/[_\s]+/).filter(Boolean);
  if (parts.length < 2) return [cut(label)];
  // Fill the first line with as many words as fit, the rest go below.
  let first = parts[0];
  let k = 1;
  while (k < parts.length - 1 && `${first}_${parts[k]}`.length <= room) first = `${first}_${parts[k++]}`;
  return [cut(first), cut(parts.slice(k).join('_'))];
}

/** Sums consecutive categories into at most MAX_BARS bins; labels become ranges (`41–44`). */
export function binCategories(categories, series) {
  if (categories.length <= MAX_BARS) return { categories, series, size: 1 };
  const size = Math.ceil(categories.length / MAX_BARS);
  const binned = [];
  for (let i = 0; i < categories.length; i += size) {
    const last = Math.min(i + size, categories.length) - 1;
    binned.push(last === i ? categories[i] : `${categories[i]}–${categories[last]}`);
  }
  return {
    categories: binned,
    series: series.map((sr) => ({
      ...sr,
      values: binned.map((_, b) => sr.values.slice(b * size, b * size + size).reduce((sum, v) => sum + (v ?? 0), 0)),
    })),
    size,
  };
}

export function barChart({
  title,
  description,
  categories: allCategories,
  series: allSeries,
  stacked = false,
  xLabel,
  yFormat = short,
  legend,
  empty = 'No data yet.',
}) {
  if (allCategories.length === 0 || allSeries.length === 0) return emptyChart(title, empty);
  const { categories, series, size } = binCategories(allCategories, allSeries);
  const totals = categories.map((_, c) =>
    stacked ? series.reduce((sum, sr) => sum + (sr.values[c] ?? 0), 0) : Math.max(...series.map((sr) => sr.values[c] ?? 0)),
  );
  const yTicks = niceTicks(0, Math.max(1, ...totals));
  const y1 = yTicks[yTicks.length - 1];
  const y = (v) => H - M.bottom - (v / y1) * (H - M.top - M.bottom);
  const band = (W - M.left - M.right) / categories.length;
  const x = (c) => M.left + band * c + band / 2;
  const every = Math.max(1, Math.ceil(categories.length / 12));
  const xTicks = categories
    .map((label, c) => ({ value: c, label: fitLabel(String(label), band * every - 4), full: String(label) }))
    .filter((_, c) => c % every === 0);
  // The table keeps every category, binned or not.
  const table = dataTable(
    [xLabel ?? '', ...allSeries.map((sr) => sr.name)],
    allCategories.map((label, c) => [label, ...allSeries.map((sr) => num(sr.values[c] ?? 0))]),
  );
  const binned = size > 1 ? `each bar sums ${size} ${xLabel ? `${xLabel}s` : 'categories'}` : '';
  const { figure, svg } = frame({
    title: binned ? `${title} (${binned})` : title,
    description,
    legend: series.map((sr) => sr.name),
    showLegend: legend,
    table,
  });
  const twoLines = xTicks.some((t) => t.label.length > 1);
  axes(svg, { xTicks, yTicks, x, y, xFormat: (v) => v, yFormat, xLabel: twoLines ? undefined : xLabel });
  const inner = Math.max(1, band * 0.8);
  categories.forEach((label, c) => {
    let base = 0;
    series.forEach((sr, i) => {
      const v = sr.values[c] ?? 0;
      if (v <= 0) return;
      const width = stacked ? inner : inner / series.length;
      const left = x(c) - inner / 2 + (stacked ? 0 : width * i);
      const top = y(base + v);
      svg.append(
        s(
          'rect',
          {
            x: left.toFixed(1),
            y: top.toFixed(1),
            width: Math.max(0.5, width - 1).toFixed(1),
            height: (y(base) - top).toFixed(1),
            fill: PALETTE[i % PALETTE.length],
            class: 'bar',
          },
          s('title', {}, `${label} · ${sr.name}: ${num(v)}`),
        ),
      );
      if (stacked) base += v;
    });
  });
  return figure;
}
