import { api } from '../api.js';
import { actorLink, dataTable, h, loading, notice, num, replace, section, timeEl } from '../dom.js';
import { deliveryCell } from './rejections.js';

const KNOWN = new Set(['reasoning', 'transcript']);

function quantity(q) {
  return q && typeof q === 'object' ? `${num(q.amount)} ${q.resource ?? ''}`.trim() : '';
}

/** One turn of a negotiation: who, what (offer, counter, accept, …), the terms, and why. */
function turn(entry) {
  if (!entry || typeof entry !== 'object') return h('li', {}, JSON.stringify(entry));
  const who = entry.by ?? entry.agent ?? entry.from ?? entry.speaker ?? entry.role ?? 'someone';
  const what = entry.type ?? entry.action ?? entry.decision ?? '';
  const terms = [entry.give ? `gives ${quantity(entry.give)}` : '', entry.get ? `asks ${quantity(entry.get)}` : '']
    .filter(Boolean)
    .join(', ');
  const text = entry.reasoning ?? entry.message ?? entry.text ?? entry.content ?? '';
  return h(
    'li',
    { class: 'turn' },
    h(
      'div',
      { class: 'turn-head' },
      entry.round !== undefined ? h('span', { class: 'muted' }, `round ${entry.round} · `) : null,
      h('strong', {}, String(who)),
      what ? ` ${what}` : '',
      terms ? ` — ${terms}` : '',
    ),
    text ? h('p', {}, String(text)) : null,
  );
}

function metadataSection(metadata) {
  const m = metadata && typeof metadata === 'object' ? metadata : {};
  const transcript = Array.isArray(m.transcript) ? m.transcript : [];
  const rest = Object.entries(m).filter(([k]) => !KNOWN.has(k));
  return [
    section(
      'AI reasoning',
      m.reasoning
        ? h('blockquote', { class: 'reasoning' }, String(m.reasoning))
        : h('p', { class: 'muted' }, 'No reasoning was recorded with this proposal.'),
    ),
    section(
      'Negotiation transcript',
      transcript.length
        ? h('ol', { class: 'transcript' }, transcript.map(turn))
        : h('p', { class: 'muted' }, 'No negotiation transcript was recorded.'),
    ),
    section(
      'Metadata',
      rest.length
        ? h(
            'dl',
            { class: 'meta' },
            rest.flatMap(([k, v]) => [
              h('dt', {}, k),
              h('dd', {}, typeof v === 'object' && v !== null ? h('code', {}, JSON.stringify(v)) : String(v)),
            ]),
          )
        : h('p', { class: 'muted' }, 'No other metadata.'),
      h('details', {}, h('summary', {}, 'Raw JSON'), h('pre', {}, JSON.stringify(m, null, 2))),
    ),
  ];
}

export function proposalPage(main, [id]) {
  const status = h('div');
  const slot = h('div', {}, loading());
  main.append(
    h('p', { class: 'crumbs' }, h('a', { href: '#/ledger' }, 'Ledger'), ' / proposal'),
    h('h1', {}, 'Proposal ', h('code', { class: 'proposal-id' }, id)),
    status,
    slot,
  );
  let alive = true;

  async function load() {
    try {
      const legs = await api(`/ledger?proposal_id=${id}&limit=50`);
      if (!alive) return;
      if (legs.entries.length > 0) return renderApplied(legs.entries.slice().sort((a, b) => a.leg - b.leg));
      const rejected = await api(`/rejections?proposal_id=${id}&limit=1`);
      if (!alive) return;
      if (rejected.rejections.length > 0) return renderRejected(rejected.rejections[0]);
      replace(
        slot,
        notice('info', 'No proposal with this id has been decided: it was never sent, or was malformed (which records nothing).'),
      );
    } catch (error) {
      if (alive) replace(status, notice('error', error.message));
    }
  }

  function renderApplied(entries) {
    const first = entries[0];
    replace(
      slot,
      section(
        'Outcome',
        h(
          'dl',
          { class: 'meta' },
          h('dt', {}, 'Status'),
          h('dd', {}, h('span', { class: 'pill pill-ok', id: 'proposal-status' }, 'applied'), ` ${first.kind}`),
          h('dt', {}, 'Executed at'),
          h('dd', {}, timeEl(first.executed_at)),
          h('dt', {}, 'Validator version'),
          h('dd', {}, h('code', {}, first.validator_version)),
        ),
      ),
      section(
        `Legs (${entries.length})`,
        dataTable({
          id: 'proposal-legs',
          columns: [
            { key: 'leg', label: 'Leg', numeric: true },
            { key: 'id', label: 'Ledger #', numeric: true, render: (e) => h('a', { href: `#/ledger?cursor=${e.id + 1}` }, String(e.id)) },
            { key: 'from', label: 'From', render: (e) => actorLink(e.actor_from, e.actor_from_name) },
            { key: 'to', label: 'To', render: (e) => actorLink(e.actor_to, e.actor_to_name) },
            { key: 'resource', label: 'Resource' },
            { key: 'amount', label: 'Amount', numeric: true, render: (e) => num(e.amount) },
          ],
          rows: entries,
        }),
      ),
      // Metadata is stored on leg 0.
      metadataSection(first.metadata),
    );
  }

  function renderRejected(r) {
    const proposal = r.proposal && typeof r.proposal === 'object' ? r.proposal : {};
    replace(
      slot,
      section(
        'Outcome',
        h(
          'dl',
          { class: 'meta' },
          h('dt', {}, 'Status'),
          h('dd', {}, h('span', { class: 'pill pill-bad', id: 'proposal-status' }, 'rejected'), ' ', h('code', {}, r.error_code)),
          h('dt', {}, 'Why'),
          h('dd', {}, r.message),
          h('dt', {}, 'Rejected at'),
          h('dd', {}, timeEl(r.rejected_at)),
          h('dt', {}, 'Validator version'),
          h('dd', {}, h('code', {}, r.validator_version)),
          h('dt', {}, 'Ticket and alert'),
          h('dd', {}, r.deliveries.length ? r.deliveries.map((d) => h('div', {}, `${d.topic}: `, deliveryCell(d))) : 'none'),
        ),
      ),
      section('Proposal as received', h('pre', {}, JSON.stringify(proposal, null, 2))),
      metadataSection(proposal.metadata),
    );
  }

  load();
  return { title: `Proposal ${id.slice(0, 8)}`, unmount: () => (alive = false) };
}
