import { api } from '../api.js';
import {
  actorLink,
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

// Every kind GET /ledger accepts (LedgerKind in src/ledger/writing/append.ts; test/dashboard/ledger-kinds.test.ts compares).
const KINDS = [
  'trade',
  'genesis',
  'production',
  'consumption',
  'adjustment',
  'regrowth',
  'extraction',
  'upkeep',
  'tax',
  'failure',
  'inheritance',
];
const SIZES = ['25', '50', '100', '200'];
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The explorer's state lives in the URL (#/ledger?actor=…&kind=…&cursor=…), so a view can be linked. */
function readQuery() {
  const p = hashParams();
  return {
    actor: p.get('actor') ?? '',
    resource: p.get('resource') ?? '',
    kind: p.get('kind') ?? '',
    proposal_id: p.get('proposal_id') ?? '',
    limit: SIZES.includes(p.get('limit')) ? p.get('limit') : '50',
    cursor: p.get('cursor') ?? '',
  };
}

export function ledgerPage(main) {
  const actorSelect = select([['', 'any actor']], { name: 'actor', id: 'filter-actor' });
  const resourceSelect = select([['', 'any resource']], { name: 'resource', id: 'filter-resource' });
  const kindSelect = select([['', 'any kind'], ...KINDS], { name: 'kind', id: 'filter-kind' });
  const proposalInput = h('input', {
    name: 'proposal_id',
    id: 'filter-proposal',
    placeholder: 'uuid',
    autocomplete: 'off',
    spellcheck: 'false',
    size: 38,
  });
  const limitSelect = select(SIZES, { name: 'limit', id: 'filter-limit' });
  const formError = h('div');
  const form = h(
    'form',
    {
      class: 'filters',
      id: 'ledger-filters',
      onsubmit: (e) => {
        e.preventDefault();
        const id = proposalInput.value.trim();
        if (id && !UUID.test(id)) {
          replace(formError, notice('error', 'A proposal id is a UUID such as 6a1d2f0e-1b9c-4e57-9a39-7d3f2b8c1e42.'));
          proposalInput.setAttribute('aria-invalid', 'true');
          proposalInput.focus();
          return;
        }
        proposalInput.removeAttribute('aria-invalid');
        replace(formError);
        location.hash = hashWith('/ledger', {
          actor: actorSelect.value,
          resource: resourceSelect.value,
          kind: kindSelect.value,
          proposal_id: id,
          limit: limitSelect.value,
        });
      },
    },
    field('Actor', actorSelect),
    field('Resource', resourceSelect),
    field('Kind', kindSelect),
    field('Proposal id', proposalInput),
    field('Per page', limitSelect),
    h(
      'div',
      { class: 'field actions' },
      h('button', { type: 'submit' }, 'Apply filters'),
      h('a', { href: '#/ledger', class: 'button-link' }, 'Clear'),
    ),
  );
  const banner = h('div', { class: 'live-banner', 'aria-live': 'polite' });
  const status = h('div');
  const slot = h('div', {}, loading());
  const pager = h('nav', { class: 'pager', 'aria-label': 'Ledger pages' });
  main.append(
    h('h1', {}, 'Ledger'),
    h('p', { class: 'muted' }, 'Every applied entry, newest first. The ledger is append-only: nothing here is ever changed or removed.'),
    form,
    formError,
    banner,
    status,
    slot,
    pager,
  );

  let alive = true;
  let query = readQuery();
  /** Cursors of the pages before this one, for "Newer". */
  const previous = [];
  let newestSeen = 0;
  let waiting = 0;
  let filtersLoaded = false;

  async function loadFilters() {
    try {
      const [actors, resources] = await Promise.all([api('/actors'), api('/resources')]);
      for (const a of actors.actors.slice().sort((x, y) => x.name.localeCompare(y.name)))
        actorSelect.append(h('option', { value: a.id }, a.name));
      for (const r of resources.resources) resourceSelect.append(h('option', { value: r.name }, r.name));
      filtersLoaded = true;
      // Only the two lists just filled take the URL's value: a kind or page size picked while
      // they loaded is the user's choice and stays.
      syncLists();
    } catch {
      // the list still loads; filters by name stay possible through the URL
    }
  }

  function syncLists() {
    actorSelect.value = query.actor;
    if (filtersLoaded && query.actor && actorSelect.value !== query.actor) {
      // A link may name the actor rather than give its id.
      const byName = [...actorSelect.options].find((o) => o.textContent === query.actor);
      if (!byName) actorSelect.append(h('option', { value: query.actor }, query.actor));
      actorSelect.value = byName ? byName.value : query.actor;
    }
    resourceSelect.value = query.resource;
  }

  function syncForm() {
    syncLists();
    kindSelect.value = query.kind;
    proposalInput.value = query.proposal_id;
    limitSelect.value = query.limit;
  }

  async function load({ highlight = false } = {}) {
    const params = new URLSearchParams({ limit: query.limit });
    for (const key of ['actor', 'resource', 'kind', 'proposal_id', 'cursor']) if (query[key]) params.set(key, query[key]);
    try {
      const page = await api(`/ledger?${params}`);
      if (!alive) return;
      const before = newestSeen;
      if (!query.cursor) newestSeen = Math.max(newestSeen, page.entries[0]?.id ?? 0);
      replace(status);
      replace(banner);
      waiting = 0;
      replace(
        slot,
        dataTable({
          id: 'ledger-table',
          caption: describe(query),
          rowClass: (e) => (highlight && e.id > before ? 'fresh' : undefined),
          columns: [
            { key: 'id', label: '#', numeric: true },
            { key: 'executed_at', label: 'Time', render: (e) => timeEl(e.executed_at) },
            { key: 'kind', label: 'Kind' },
            { key: 'from', label: 'From', render: (e) => actorLink(e.actor_from, e.actor_from_name) },
            { key: 'to', label: 'To', render: (e) => actorLink(e.actor_to, e.actor_to_name) },
            { key: 'resource', label: 'Resource' },
            { key: 'amount', label: 'Amount', numeric: true, render: (e) => num(e.amount) },
            { key: 'proposal', label: 'Proposal', render: (e) => [proposalLink(e.proposal_id), e.leg > 0 ? ` leg ${e.leg}` : ''] },
          ],
          rows: page.entries,
          empty: 'No entries match these filters.',
        }),
      );
      replace(
        pager,
        h('button', { type: 'button', disabled: !query.cursor, onclick: () => go(previous.pop() ?? '') }, '← Newer'),
        h('button', { type: 'button', disabled: !query.cursor, onclick: () => ((previous.length = 0), go('')) }, 'Newest'),
        h(
          'button',
          { type: 'button', disabled: !page.next_cursor, onclick: () => (previous.push(query.cursor), go(String(page.next_cursor))) },
          'Older →',
        ),
      );
    } catch (error) {
      if (alive) replace(status, notice('error', error.message));
    }
  }

  function go(cursor) {
    location.hash = hashWith('/ledger', { ...query, cursor });
  }

  const refresh = throttle(() => load({ highlight: true }), 1000);
  loadFilters();
  syncForm();
  load();

  return {
    title: 'Ledger',
    onQueryChange() {
      const next = readQuery();
      const filtersChanged = ['actor', 'resource', 'kind', 'proposal_id', 'limit'].some((k) => next[k] !== query[k]);
      if (filtersChanged) previous.length = 0;
      query = next;
      syncForm();
      load();
    },
    onEvent(type, data) {
      if (type !== 'ledger' && type !== 'resync') return;
      // On the first page new entries slide in; further back, say they are there.
      if (!query.cursor) return refresh();
      waiting += data.entries ?? 1;
      replace(
        banner,
        notice(
          'info',
          `${num(waiting)} new ledger entr${waiting === 1 ? 'y' : 'ies'} since this page loaded. `,
          h('button', { type: 'button', onclick: () => ((previous.length = 0), go('')) }, 'Show newest'),
        ),
      );
    },
    unmount: () => (alive = false),
  };
}

function describe(q) {
  const parts = [];
  if (q.kind) parts.push(`kind ${q.kind}`);
  if (q.resource) parts.push(`resource ${q.resource}`);
  if (q.actor) parts.push('one actor');
  if (q.proposal_id) parts.push(`proposal ${q.proposal_id}`);
  return `Ledger entries${parts.length ? ` (${parts.join(', ')})` : ''}, newest first${q.cursor ? `, before entry ${q.cursor}` : ''}.`;
}
