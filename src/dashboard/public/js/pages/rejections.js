import { api } from '../api.js';
import { barChart } from '../charts.js';
import {
  dataTable,
  field,
  h,
  hashParams,
  hashWith,
  loading,
  notice,
  num,
  proposalLink,
  replace,
  select,
  throttle,
  timeEl,
} from '../dom.js';

/** A delivery's state in words; a Linear issue links to itself. */
export function deliveryCell(d) {
  if (!d) return h('span', { class: 'muted' }, '–');
  const ref = d.external_ref && typeof d.external_ref === 'object' ? d.external_ref : null;
  if (d.status === 'delivered' && ref?.url) {
    return h('a', { href: ref.url, target: '_blank', rel: 'noopener noreferrer', class: 'ticket' }, ref.identifier ?? 'issue');
  }
  const words = {
    delivered: 'delivered',
    skipped: 'not configured',
    pending: d.attempts > 0 ? `retrying (attempt ${d.attempts})` : 'queued',
    dead: 'gave up',
  };
  return h(
    'span',
    { class: `delivery delivery-${d.status}`, title: d.last_error ?? undefined },
    words[d.status] ?? d.status,
    d.last_error && d.status !== 'delivered' ? h('small', { class: 'muted' }, ` — ${d.last_error}`) : null,
  );
}

export function rejectionsPage(main) {
  const codeSelect = select([['', 'any code']], { id: 'filter-code', name: 'error_code' });
  const summary = h('div', {}, loading());
  const status = h('div');
  const slot = h('div');
  const pager = h('nav', { class: 'pager', 'aria-label': 'Rejection pages' });
  main.append(
    h('h1', {}, 'Rejections'),
    h('p', { class: 'muted' }, 'Every rejected proposal, recorded once, with its Linear ticket and Discord alert.'),
    summary,
    h(
      'form',
      {
        class: 'filters',
        onsubmit: (e) => {
          e.preventDefault();
          location.hash = hashWith('/rejections', { error_code: codeSelect.value });
        },
      },
      field('Error code', codeSelect),
      h('div', { class: 'field actions' }, h('button', { type: 'submit' }, 'Show')),
    ),
    status,
    slot,
    pager,
  );
  let alive = true;
  let code = hashParams().get('error_code') ?? '';
  let cursor = hashParams().get('cursor') ?? '';
  const previous = [];

  async function loadSummary() {
    try {
      const stats = await api('/stats');
      if (!alive) return;
      const codes = Object.entries(stats.rejections.by_code).sort((a, b) => b[1] - a[1]);
      const known = new Set([...codeSelect.options].map((o) => o.value));
      for (const [c] of codes) if (!known.has(c)) codeSelect.append(h('option', { value: c }, c));
      codeSelect.value = code;
      replace(
        summary,
        h(
          'div',
          { class: 'split' },
          dataTable({
            id: 'rejection-counts',
            caption: `${num(stats.rejections.total)} rejected in all`,
            columns: [
              {
                key: 'code',
                label: 'Error code',
                render: (r) => h('a', { href: hashWith('/rejections', { error_code: r.code }) }, r.code),
              },
              { key: 'n', label: 'Count', numeric: true, render: (r) => num(r.n) },
            ],
            rows: codes.map(([c, n]) => ({ code: c, n })),
            empty: 'No proposal has been rejected.',
          }),
          codes.length
            ? barChart({
                title: 'Rejections by error code',
                categories: codes.map(([c]) => c),
                series: [{ name: 'rejections', values: codes.map(([, n]) => n) }],
              })
            : null,
        ),
      );
    } catch (error) {
      if (alive) replace(summary, notice('error', error.message));
    }
  }

  async function loadList() {
    const params = new URLSearchParams({ limit: '50' });
    if (code) params.set('error_code', code);
    if (cursor) params.set('cursor', cursor);
    try {
      const [page, names] = await Promise.all([api(`/rejections?${params}`), actorNames()]);
      if (!alive) return;
      replace(status);
      const topic = (r, name) => r.deliveries.find((d) => d.topic === name);
      replace(
        slot,
        dataTable({
          id: 'rejections-table',
          caption: `Rejected proposals${code ? ` with ${code}` : ''}, newest first.`,
          columns: [
            { key: 'rejected_at', label: 'Time', render: (r) => timeEl(r.rejected_at) },
            { key: 'proposal_id', label: 'Proposal', render: (r) => proposalLink(r.proposal_id) },
            { key: 'error_code', label: 'Code', render: (r) => h('code', {}, r.error_code) },
            { key: 'message', label: 'Why', render: (r) => withNames(r.message, names) },
            { key: 'linear', label: 'Linear issue', render: (r) => deliveryCell(topic(r, 'linear')) },
            { key: 'discord', label: 'Discord alert', render: (r) => deliveryCell(topic(r, 'discord')) },
          ],
          rows: page.rejections,
          empty: code ? `No rejection with ${code}.` : 'No proposal has been rejected.',
        }),
      );
      replace(
        pager,
        h('button', { type: 'button', disabled: !cursor, onclick: () => go(previous.pop() ?? '') }, '← Newer'),
        h(
          'button',
          { type: 'button', disabled: !page.next_cursor, onclick: () => (previous.push(cursor), go(page.next_cursor)) },
          'Older →',
        ),
      );
    } catch (error) {
      if (alive) replace(status, notice('error', error.message));
    }
  }

  function go(next) {
    location.hash = hashWith('/rejections', { error_code: code, cursor: next });
  }

  const refresh = throttle(() => {
    loadSummary();
    if (!cursor) loadList();
  }, 1000);
  // Deliveries change without a new rejection (the dispatcher retries): look again now and then.
  const timer = setInterval(refresh, 15_000);
  loadSummary();
  loadList();
  return {
    title: 'Rejections',
    onQueryChange() {
      const next = hashParams().get('error_code') ?? '';
      if (next !== code) previous.length = 0;
      code = next;
      cursor = hashParams().get('cursor') ?? '';
      codeSelect.value = code;
      loadList();
    },
    onEvent: (type) => (type === 'rejection' || type === 'resync') && refresh(),
    unmount() {
      alive = false;
      clearInterval(timer);
    },
  };
}

const UUIDS = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/gi;

/** Actor names by id, from the world state; none when it cannot be read (the ids then stay). */
async function actorNames() {
  try {
    const state = await api('/world-state');
    return new Map((state.actors ?? []).map((a) => [a.id, a.name]));
  } catch {
    return new Map();
  }
}

/** A validator message for people: actors by name, each id kept in the tooltip. */
function withNames(message, names) {
  const text = String(message ?? '');
  const named = text.replace(UUIDS, (id) => names.get(id.toLowerCase()) ?? id);
  return named === text ? text : h('span', { title: text }, named);
}
