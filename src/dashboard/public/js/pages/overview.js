import { api } from '../api.js';
import { barChart } from '../charts.js';
import { actorLink, dataTable, h, loading, notice, num, percent, proposalLink, replace, section, throttle, time, timeEl } from '../dom.js';

const WINDOW = 300;

function check(name, ok, ...detail) {
  return h(
    'li',
    { class: `check ${ok ? 'ok' : 'bad'}`, dataset: { check: name } },
    h('span', { class: 'check-mark', 'aria-hidden': 'true' }, ok ? '✓' : '✗'),
    h('strong', {}, name),
    ' ',
    ...detail,
  );
}

/** The tamper-evidence check: how far the ledger is sealed, or where the chain broke. */
function chainDetail(chain) {
  if (!chain) return 'not reported by this validator';
  if (chain.broken)
    return `broken at block ${num(chain.broken.block_no)}${chain.broken.ledger_id ? ` (ledger entry ${num(chain.broken.ledger_id)})` : ''}: ${chain.broken.message}`;
  if (!chain.sealed_through) return 'intact; nothing sealed yet';
  return [
    `intact: sealed through entry ${num(chain.sealed_through)} of ${num(chain.ledger_head)}`,
    chain.head_hash ? h('span', { class: 'muted' }, ` · head ${String(chain.head_hash).slice(0, 12)}…`) : null,
  ];
}

function healthPanel(health) {
  const c = health.checks ?? {};
  const breaker = c.circuit_breaker;
  const drift = c.ledger_consistency?.drift ?? [];
  const chain = c.hash_chain;
  const items = [
    check('Database', c.database?.ok, c.database?.ok ? 'answers' : (c.database?.error ?? 'did not answer')),
    check(
      'Ledger consistency',
      c.ledger_consistency?.ok,
      c.ledger_consistency?.ok
        ? 'balances equal a replay of the ledger'
        : (c.ledger_consistency?.error ?? `${drift.length} balance row(s) differ from the ledger`),
    ),
    check(
      'Circuit breaker',
      breaker?.ok,
      breaker
        ? breaker.state === 'open'
          ? h(
              'span',
              { id: 'breaker-state' },
              `open — ${breaker.reason ?? 'no reason given'} (by ${breaker.changed_by ?? '?'}, ${time(breaker.changed_at)})`,
            )
          : h('span', { id: 'breaker-state' }, 'closed: trading runs')
        : 'unknown',
    ),
    check('Hash chain', chain?.ok, chainDetail(chain)),
  ];
  return section(
    'Health',
    h(
      'p',
      {},
      h(
        'span',
        { class: `pill ${health.status === 'ok' ? 'pill-ok' : 'pill-bad'}`, id: 'health-status' },
        health.status === 'ok' ? 'Healthy' : 'Unhealthy',
      ),
      ' ',
      h('span', { class: 'muted' }, `validator ${health.validator_version ?? ''}`),
    ),
    h('ul', { class: 'checks' }, items),
    drift.length
      ? dataTable({
          caption: 'Balance rows that differ from the ledger',
          columns: [
            { key: 'actor', label: 'Actor', render: (r) => r.actor ?? r.actor_id },
            { key: 'resource', label: 'Resource' },
            { key: 'balance', label: 'Balance', numeric: true },
            { key: 'expected', label: 'Ledger says', numeric: true },
          ],
          rows: drift,
        })
      : null,
  );
}

function tile(label, value, id, hint) {
  return h(
    'div',
    { class: 'tile' },
    h('div', { class: 'tile-label' }, label),
    h('div', { class: 'tile-value', id }, value),
    hint ? h('div', { class: 'tile-hint' }, hint) : null,
  );
}

function activityPanel(stats) {
  const w = stats.window;
  const o = stats.outbox;
  return section(
    'Activity',
    h(
      'div',
      { class: 'tiles' },
      tile('Epoch', num(stats.epoch), 'kpi-epoch'),
      tile('Ledger head', num(stats.ledger_head), 'kpi-head', 'id of the newest entry'),
      tile('Applied / min', num(w.applied_per_minute), 'kpi-applied', `${num(w.applied)} in ${w.seconds / 60} min`),
      tile('Rejected / min', num(w.rejected_per_minute), 'kpi-rejected', `${num(w.rejected)} in ${w.seconds / 60} min`),
      tile('Acceptance', percent(w.acceptance), 'kpi-acceptance', 'applied ÷ decided'),
      tile('Outbox backlog', num(o.backlog), 'kpi-outbox', `${num(o.by_status.pending)} pending, ${num(o.by_status.dead)} dead`),
    ),
  );
}

function resourcesPanel(stats) {
  const rows = Object.keys(stats.supply).map((resource) => ({ resource, supply: stats.supply[resource], gini: stats.gini[resource] ?? 0 }));
  return section(
    'Resources',
    dataTable({
      id: 'resources-table',
      caption:
        'Supply is the sum of every actor’s balance (world excluded); Gini is 0 when all hold the same, towards 1 when one holds everything.',
      columns: [
        { key: 'resource', label: 'Resource' },
        { key: 'supply', label: 'Supply', numeric: true, render: (r) => num(r.supply) },
        {
          key: 'gini',
          label: 'Gini',
          numeric: true,
          render: (r) =>
            h(
              'span',
              { class: 'gini' },
              h('meter', { min: 0, max: 1, value: r.gini, 'aria-label': `Gini ${r.resource}` }),
              ` ${r.gini.toFixed(4)}`,
            ),
        },
      ],
      rows,
    }),
  );
}

function outboxPanel(stats) {
  const topics = Object.keys(stats.outbox.by_topic).sort();
  const statuses = ['pending', 'delivered', 'skipped', 'dead'];
  return section(
    'Outbox (Linear, Discord)',
    topics.length === 0
      ? h('p', { class: 'muted' }, 'Nothing queued yet: rows appear with the first rejection.')
      : dataTable({
          columns: [
            { key: 'topic', label: 'Target' },
            ...statuses.map((s) => ({ key: s, label: s, numeric: true, render: (r) => num(r[s] ?? 0) })),
          ],
          rows: topics.map((topic) => ({ topic, ...stats.outbox.by_topic[topic] })),
        }),
    stats.outbox.oldest_pending_at ? h('p', { class: 'muted' }, 'Oldest pending since ', timeEl(stats.outbox.oldest_pending_at)) : null,
  );
}

function latestEntries(entries) {
  return section(
    'Latest ledger entries',
    dataTable({
      id: 'latest-entries',
      columns: [
        { key: 'id', label: '#', numeric: true },
        { key: 'kind', label: 'Kind' },
        {
          key: 'from',
          label: 'From → to',
          render: (e) => [actorLink(e.actor_from, e.actor_from_name), ' → ', actorLink(e.actor_to, e.actor_to_name)],
        },
        { key: 'amount', label: 'Amount', numeric: true, render: (e) => `${num(e.amount)} ${e.resource}` },
        { key: 'proposal', label: 'Proposal', render: (e) => proposalLink(e.proposal_id) },
      ],
      rows: entries,
      empty: 'The ledger is empty.',
    }),
    h('p', {}, h('a', { href: '#/ledger' }, 'Explore the ledger')),
  );
}

function rejectionsPanel(stats) {
  const codes = Object.entries(stats.rejections.by_code).sort((a, b) => b[1] - a[1]);
  return section(
    'Rejections by code',
    codes.length === 0
      ? h('p', { class: 'muted' }, 'No proposal has been rejected.')
      : barChart({
          title: `${num(stats.rejections.total)} rejected in all`,
          categories: codes.map(([c]) => c),
          series: [{ name: 'rejections', values: codes.map(([, n]) => n) }],
        }),
    h('p', {}, h('a', { href: '#/rejections' }, 'See the rejections')),
  );
}

export function overviewPage(main, _params, context) {
  const status = h('div', { class: 'page-status' });
  const healthSlot = h('div', { class: 'slot-health' }, loading('Checking health…'));
  const activitySlot = h('div', { id: 'overview-activity' }, loading());
  main.append(h('h1', {}, 'Overview'), status, healthSlot, activitySlot);
  let alive = true;
  const problems = { health: null, activity: null };
  // Both halves fail alike when the validator is down: say it once.
  const showProblems = () =>
    replace(
      status,
      [...new Set(Object.values(problems).filter(Boolean))].map((m) => notice('error', m)),
    );
  const unavailable = (what) => h('p', { class: 'muted' }, `${what} cannot be shown until the validator answers.`);

  // /health replays the ledger to check for drift: read it on breaker changes and every 30 s,
  // not on every trade.
  async function loadHealth() {
    try {
      const health = await api('/health', { accept: [503] });
      if (!alive) return;
      replace(healthSlot, healthPanel(health));
      problems.health = null;
    } catch (error) {
      problems.health = error.message;
      if (alive && healthSlot.querySelector('.loading')) replace(healthSlot, unavailable('Health'));
    }
    if (alive) showProblems();
  }

  async function loadActivity() {
    try {
      const [stats, ledger] = await Promise.all([api(`/stats?window=${WINDOW}`), api('/ledger?limit=8')]);
      if (!alive) return;
      replace(
        activitySlot,
        activityPanel(stats),
        h(
          'div',
          { class: 'columns' },
          h('div', {}, resourcesPanel(stats), rejectionsPanel(stats)),
          h('div', {}, latestEntries(ledger.entries), outboxPanel(stats)),
        ),
      );
      activitySlot.dataset.head = String(stats.ledger_head);
      problems.activity = null;
    } catch (error) {
      problems.activity = error.message;
      if (alive && activitySlot.querySelector('.loading')) replace(activitySlot, unavailable('Activity'));
    }
    if (alive) showProblems();
  }

  const refreshActivity = throttle(loadActivity, 1000);
  const refreshHealth = throttle(loadHealth, 1000);
  const timer = setInterval(loadHealth, 30_000);
  loadHealth();
  loadActivity();

  return {
    title: 'Overview',
    onEvent(type) {
      if (type === 'breaker' || type === 'resync') {
        context.refreshBreaker();
        refreshHealth();
      }
      if (type !== 'breaker') refreshActivity();
    },
    unmount() {
      alive = false;
      clearInterval(timer);
    },
  };
}
