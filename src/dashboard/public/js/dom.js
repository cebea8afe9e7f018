// DOM helpers. Text always goes in as text nodes, never as HTML, so nothing the API returns can
// inject markup.

/** Creates an element: h('a', { href: '#/x', class: 'link', onclick: fn }, 'text', child). */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  setAttrs(el, attrs);
  append(el, children);
  return el;
}

export function setAttrs(el, attrs) {
  for (const [name, value] of Object.entries(attrs ?? {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith('on') && typeof value === 'function') el.addEventListener(name.slice(2).toLowerCase(), value);
    else if (name === 'class') el.className = value;
    else if (name === 'dataset') Object.assign(el.dataset, value);
    else if (value === true) el.setAttribute(name, '');
    else el.setAttribute(name, String(value));
  }
}

export function append(el, children) {
  for (const child of [children].flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : String(child));
  }
  return el;
}

export function replace(el, ...children) {
  el.replaceChildren();
  return append(el, children);
}

const numberFormat = new Intl.NumberFormat('en', { maximumFractionDigits: 6 });
const compactFormat = new Intl.NumberFormat('en', { maximumFractionDigits: 2 });

/** Amounts as the API sent them (exact up to 6 places), with thousands separators. */
export const num = (n) => (n === null || n === undefined || Number.isNaN(Number(n)) ? '–' : numberFormat.format(Number(n)));
export const short = (n) => (n === null || n === undefined ? '–' : compactFormat.format(Number(n)));
export const signed = (n) => (Number(n) > 0 ? `+${num(n)}` : num(n));
export const percent = (ratio) => (ratio === null || ratio === undefined ? '–' : `${compactFormat.format(Number(ratio) * 100)} %`);

const pad = (n) => String(n).padStart(2, '0');
/** Local time, to the second: 2026-11-27 16:57:03. */
export function time(iso) {
  if (!iso) return '–';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return String(iso);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

export const timeEl = (iso) => h('time', { datetime: iso ?? undefined }, time(iso));
export const shortId = (id) => (typeof id === 'string' && id.length > 12 ? `${id.slice(0, 8)}…` : String(id ?? ''));

/** Calls fn at most once per `ms`, and once more after the last call (so nothing is missed). */
export function throttle(fn, ms) {
  let last = 0;
  let timer;
  return (...args) => {
    const wait = last + ms - Date.now();
    clearTimeout(timer);
    if (wait <= 0) {
      last = Date.now();
      fn(...args);
    } else {
      timer = setTimeout(() => {
        last = Date.now();
        fn(...args);
      }, wait);
    }
  };
}

/** Hash route parameters: #/ledger?kind=trade → URLSearchParams. */
export function hashParams() {
  const hash = location.hash;
  const q = hash.indexOf('?');
  return new URLSearchParams(q >= 0 ? hash.slice(q + 1) : '');
}

export function hashWith(path, params) {
  const query = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') query.set(k, String(v));
  const text = query.toString();
  return `#${path}${text ? `?${text}` : ''}`;
}

/** A link to the actor's page; world, the system actor, has none (it is everyone's counterpart). */
export const actorLink = (id, name) =>
  name === 'world'
    ? h('span', { class: 'world', title: 'the system actor: source and sink of all supply' }, 'world')
    : h('a', { href: `#/actors/${encodeURIComponent(id)}` }, name ?? shortId(id));
export const proposalLink = (id, label) => h('a', { href: `#/proposals/${id}`, class: 'mono', title: id }, label ?? shortId(id));

/** A section with a heading; `level` 2 by default. */
export const section = (title, ...children) => h('section', { class: 'panel' }, h('h2', {}, title), ...children);

export const notice = (kind, ...children) =>
  h('div', { class: `notice notice-${kind}`, role: kind === 'error' ? 'alert' : 'status' }, ...children);

export function loading(what = 'Loading…') {
  return h('p', { class: 'muted loading', role: 'status' }, what);
}

/**
 * A table whose sortable columns sort on click or Enter (header buttons, aria-sort).
 * columns: [{ key, label, value?(row) for sorting, render?(row), numeric? }]
 */
export function dataTable({ columns, rows, caption, empty = 'Nothing to show.', sort, onSort, rowClass, id }) {
  let state = sort ? { ...sort } : null;
  const tbody = h('tbody');
  const headers = columns.map((col) => {
    const th = h('th', { scope: 'col', class: col.numeric ? 'num' : undefined });
    if (col.sortable === false || !sort) append(th, col.label);
    else {
      th.append(
        h(
          'button',
          {
            type: 'button',
            class: 'sort',
            onclick: () => {
              state = { key: col.key, dir: state?.key === col.key && state.dir === 'asc' ? 'desc' : 'asc' };
              onSort?.(state);
              render();
            },
          },
          col.label,
          h('span', { class: 'sort-mark', 'aria-hidden': 'true' }),
        ),
      );
    }
    return th;
  });
  const valueOf = (col, row) => (col.value ? col.value(row) : row[col.key]);
  function render() {
    let list = rows.slice();
    if (state) {
      const col = columns.find((c) => c.key === state.key);
      if (col) {
        const dir = state.dir === 'desc' ? -1 : 1;
        list.sort((a, b) => {
          const x = valueOf(col, a);
          const y = valueOf(col, b);
          if (typeof x === 'number' && typeof y === 'number') return (x - y) * dir;
          return String(x ?? '').localeCompare(String(y ?? ''), 'en', { numeric: true }) * dir;
        });
      }
    }
    headers.forEach((th, i) => {
      const active = state && columns[i].key === state.key;
      if (active) th.setAttribute('aria-sort', state.dir === 'desc' ? 'descending' : 'ascending');
      else th.removeAttribute('aria-sort');
    });
    replace(
      tbody,
      list.length === 0
        ? h('tr', {}, h('td', { colspan: columns.length, class: 'muted' }, empty))
        : list.map((row) =>
            h(
              'tr',
              { class: rowClass?.(row) },
              columns.map((col) => h('td', { class: col.numeric ? 'num' : undefined }, col.render ? col.render(row) : valueOf(col, row))),
            ),
          ),
    );
  }
  render();
  return h(
    'div',
    { class: 'table-wrap' },
    h('table', { id }, caption ? h('caption', {}, caption) : null, h('thead', {}, h('tr', {}, headers)), tbody),
  );
}

/** A labelled form field: label + control, joined by id. */
export function field(label, control, hint) {
  const id = control.id || `f-${Math.random().toString(36).slice(2, 9)}`;
  control.id = id;
  const hintEl = hint ? h('small', { id: `${id}-hint`, class: 'hint' }, hint) : null;
  if (hintEl) control.setAttribute('aria-describedby', hintEl.id);
  return h('div', { class: 'field' }, h('label', { for: id }, label), control, hintEl);
}

export function select(options, attrs = {}) {
  const el = h('select', attrs);
  for (const option of options) {
    const [value, label] = Array.isArray(option) ? option : [option, option];
    el.append(h('option', { value }, label));
  }
  if (attrs.value !== undefined) el.value = attrs.value;
  return el;
}
