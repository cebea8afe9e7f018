import { api } from '../api.js';
import { lineChart } from '../charts.js';
import {
  actorLink,
  dataTable,
  field,
  h,
  loading,
  notice,
  num,
  proposalLink,
  replace,
  section,
  signed,
  throttle,
  time,
  timeEl,
} from '../dom.js';

export function actorsPage(main) {
  let sort = { key: 'name', dir: 'asc' };
  let data = null;
  const filter = h('input', { type: 'search', id: 'actor-filter', placeholder: 'name or type', autocomplete: 'off' });
  const slot = h('div', {}, loading());
  const status = h('div');
  main.append(
    h('h1', {}, 'Actors'),
    h('form', { class: 'filters', role: 'search', onsubmit: (e) => e.preventDefault() }, field('Filter actors', filter)),
    status,
    slot,
  );
  let alive = true;

  function render() {
    if (!data) return;
    const q = filter.value.trim().toLowerCase();
    const rows = data.actors
      .filter((a) => !q || a.name.toLowerCase().includes(q) || a.type.toLowerCase().includes(q))
      .map((a) => ({ ...a, ...Object.fromEntries(data.resources.map((r) => [`r:${r}`, a.balances[r] ?? 0])) }));
    replace(
      slot,
      dataTable({
        id: 'actors-table',
        caption: `Balances as of ledger entry ${num(data.ledger_head)}. Select a column heading to sort.`,
        sort,
        onSort: (next) => (sort = next),
        columns: [
          { key: 'name', label: 'Actor', render: (a) => actorLink(a.id, a.name) },
          { key: 'type', label: 'Type' },
          ...data.resources.map((r) => ({
            key: `r:${r}`,
            label: `${r}${data.units[r] ? ` (${data.units[r]})` : ''}`,
            numeric: true,
            render: (a) => num(a[`r:${r}`]),
          })),
        ],
        rows,
        empty: q ? 'No actor matches the filter.' : 'No actors yet.',
      }),
    );
  }

  async function load() {
    try {
      const [actors, resources] = await Promise.all([api('/actors'), api('/resources')]);
      if (!alive) return;
      data = {
        actors: actors.actors,
        ledger_head: actors.ledger_head,
        resources: resources.resources.map((r) => r.name),
        units: Object.fromEntries(resources.resources.map((r) => [r.name, r.unit])),
      };
      replace(status);
      render();
    } catch (error) {
      if (alive) replace(status, notice('error', error.message));
    }
  }
  filter.addEventListener('input', render);
  const refresh = throttle(load, 1000);
  load();
  return {
    title: 'Actors',
    onEvent: (type) => type !== 'breaker' && refresh(),
    unmount: () => (alive = false),
  };
}

/**
 * Balances after each of the actor's entries, walking back from a snapshot: entries newer than
 * the snapshot's ledger head are left out, so the two agree.
 */
export function balanceHistory(actorId, balances, head, entries, resources) {
  const running = { ...balances };
  const series = Object.fromEntries(resources.map((r) => [r, []]));
  for (const e of entries) {
    if (e.id > head || !(e.resource in series)) continue;
    series[e.resource].push({ x: e.id, y: running[e.resource] ?? 0, label: `entry ${e.id}, ${time(e.executed_at)}` });
    const delta = e.actor_to === actorId ? e.amount : -e.amount;
    running[e.resource] = (running[e.resource] ?? 0) - delta;
  }
  for (const r of resources) {
    const points = series[r];
    if (points.length > 0) points.push({ x: points[points.length - 1].x - 1, y: running[r] ?? 0, label: 'before' });
    points.reverse();
  }
  return resources.filter((r) => series[r].length > 0).map((r) => ({ name: r, points: series[r] }));
}

export function actorPage(main, [ref]) {
  const heading = h('h1', {}, 'Actor');
  const status = h('div');
  const slot = h('div', {}, loading());
  main.append(h('p', { class: 'crumbs' }, h('a', { href: '#/actors' }, 'Actors'), ' / ', ref), heading, status, slot);
  let alive = true;
  let entries = [];
  let cursor = null;
  const PAGE = 200;

  function render(actor, snapshot, resources) {
    heading.textContent = actor.name;
    document.title = `${actor.name} · Grid Governance`;
    const history = balanceHistory(actor.id, actor.balances, snapshot, entries, resources);
    const more = cursor
      ? h('button', { type: 'button', onclick: () => loadOlder() }, `Load ${PAGE} older entries`)
      : h('p', { class: 'muted' }, entries.length ? 'This is the actor’s first entry.' : '');
    replace(
      slot,
      section(
        'Balances now',
        h(
          'dl',
          { class: 'balances' },
          resources.flatMap((r) => [h('dt', {}, r), h('dd', { class: 'num' }, num(actor.balances[r] ?? 0))]),
        ),
        h('p', { class: 'muted' }, `${actor.type} · id `, h('code', {}, actor.id)),
      ),
      section(
        'Balance history',
        lineChart({
          title: `Balances of ${actor.name} after each ledger entry`,
          series: history,
          xLabel: 'ledger entry',
          xFormat: (v) => String(Math.round(v)),
          step: true,
          legend: true,
          empty: 'No ledger entries for this actor yet.',
        }),
      ),
      section(
        `Trades and other entries (${entries.length}${cursor ? '+' : ''})`,
        dataTable({
          id: 'actor-entries',
          columns: [
            { key: 'id', label: '#', numeric: true },
            { key: 'executed_at', label: 'Time', render: (e) => timeEl(e.executed_at) },
            { key: 'kind', label: 'Kind' },
            {
              key: 'counterparty',
              label: 'Counterparty',
              render: (e) =>
                e.actor_to === actor.id
                  ? ['from ', actorLink(e.actor_from, e.actor_from_name)]
                  : ['to ', actorLink(e.actor_to, e.actor_to_name)],
            },
            { key: 'resource', label: 'Resource' },
            { key: 'change', label: 'Change', numeric: true, render: (e) => signed(e.actor_to === actor.id ? e.amount : -e.amount) },
            { key: 'proposal', label: 'Proposal', render: (e) => proposalLink(e.proposal_id) },
          ],
          rows: entries,
          empty: 'No ledger entries for this actor.',
        }),
        more,
      ),
    );
  }

  let state = null;
  async function load() {
    try {
      const [actors, resources] = await Promise.all([api('/actors'), api('/resources')]);
      const actor = actors.actors.find((a) => a.id === ref || a.name === ref);
      if (!alive) return;
      if (!actor) {
        replace(slot);
        replace(status, notice('error', `There is no actor “${ref}”.`));
        return;
      }
      const page = await api(`/ledger?actor=${encodeURIComponent(actor.id)}&limit=${PAGE}`);
      if (!alive) return;
      entries = page.entries;
      cursor = page.next_cursor;
      state = { actor, snapshot: actors.ledger_head, resources: resources.resources.map((r) => r.name) };
      replace(status);
      render(state.actor, state.snapshot, state.resources);
    } catch (error) {
      if (alive) replace(status, notice('error', error.message));
    }
  }

  async function loadOlder() {
    try {
      const page = await api(`/ledger?actor=${encodeURIComponent(state.actor.id)}&limit=${PAGE}&cursor=${cursor}`);
      entries = entries.concat(page.entries);
      cursor = page.next_cursor;
      render(state.actor, state.snapshot, state.resources);
    } catch (error) {
      replace(status, notice('error', error.message));
    }
  }

  const refresh = throttle(load, 1500);
  load();
  return {
    title: `Actor ${ref}`,
    onEvent: (type) => type !== 'breaker' && type !== 'rejection' && refresh(),
    unmount: () => (alive = false),
  };
}
