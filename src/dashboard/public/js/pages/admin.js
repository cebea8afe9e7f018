import { api, session } from '../api.js';
import { dataTable, field, h, notice, num, proposalLink, replace, section, select, signed, throttle, time, timeEl } from '../dom.js';

function result(slot, kind, ...children) {
  replace(slot, notice(kind, ...children));
}

/**
 * An audit row's request in a line. The actor is named as the result resolved it, so a change made
 * here (which sends the actor's id) reads like one made with `gridgov admin` (which sends its name).
 */
export function summarise(payload) {
  const p = payload && typeof payload === 'object' ? payload : {};
  const request = p.request && typeof p.request === 'object' ? p.request : null;
  if (!request || Object.keys(request).length === 0) return '';
  const actor = p.result && typeof p.result === 'object' && typeof p.result.actor === 'string' ? p.result.actor : null;
  return Object.entries(request)
    .map(([k, v]) => (k === 'actor_id' && actor ? ['actor', actor] : [k, v]))
    .map(([k, v]) => `${k}: ${typeof v === 'object' ? JSON.stringify(v) : v}`)
    .join(', ');
}

export function adminPage(main, _params, context) {
  let alive = true;

  // A refusal shown under a form (say a 401 before any key was set) no longer applies once the
  // key changes.
  const clearOverrideResults = () => {
    for (const slot of [breakerResult, balanceResult, creditResult]) replace(slot);
  };

  // --- the key -------------------------------------------------------------------------------
  const keyInput = h('input', { type: 'password', id: 'admin-key', name: 'key', autocomplete: 'off', spellcheck: 'false', required: true });
  const keyState = h('p', { id: 'key-state', class: 'muted' });
  const keyResult = h('div', { id: 'key-result' });
  const showKeyState = () => {
    keyState.textContent = session.key
      ? 'A key is set for this browser session (it is forgotten when the session ends).'
      : 'No key set: overrides and the audit log need one.';
  };
  const keyForm = h(
    'form',
    {
      id: 'key-form',
      class: 'inline-form',
      onsubmit: async (e) => {
        e.preventDefault();
        const key = keyInput.value.trim();
        if (!key) return result(keyResult, 'error', 'Enter an API key.');
        try {
          // Checked against the audit log, which every valid key may read.
          await api('/admin/audit?limit=1', { key });
          session.setKey(key);
          keyInput.value = '';
          result(keyResult, 'success', 'Key accepted.');
          clearOverrideResults();
          showKeyState();
          loadAudit();
        } catch (error) {
          result(keyResult, 'error', error.message);
          keyInput.focus();
        }
      },
    },
    field('API key', keyInput, 'A key from “gridgov keys create”, or GRIDGOV_ADMIN_KEY. Kept in this tab’s session storage only.'),
    h(
      'div',
      { class: 'field actions' },
      h('button', { type: 'submit' }, 'Use this key'),
      h(
        'button',
        {
          type: 'button',
          onclick: () => {
            session.forget();
            clearOverrideResults();
            showKeyState();
            result(keyResult, 'info', 'Key forgotten.');
            loadAudit();
          },
        },
        'Forget key',
      ),
    ),
  );

  // --- circuit breaker -----------------------------------------------------------------------
  const breakerState = h('p', { id: 'admin-breaker-state' }, 'Checking…');
  const reasonInput = h('input', { type: 'text', id: 'breaker-reason', name: 'reason', maxlength: 500, autocomplete: 'off' });
  const breakerResult = h('div', { id: 'breaker-result' });
  async function setBreaker(enabled) {
    try {
      const body = { enabled };
      if (reasonInput.value.trim()) body.reason = reasonInput.value.trim();
      const state = await api('/admin/circuit-breaker', { method: 'POST', body, auth: true });
      result(breakerResult, 'success', state.enabled ? `Trading halted${state.reason ? `: ${state.reason}` : ''}.` : 'Trading resumed.');
      reasonInput.value = '';
      loadBreaker();
      context.refreshBreaker();
      loadAudit();
    } catch (error) {
      result(breakerResult, 'error', error.message);
      loadAudit();
    }
  }
  const breakerForm = h(
    'form',
    { id: 'breaker-form', onsubmit: (e) => e.preventDefault() },
    breakerState,
    field('Reason', reasonInput, 'Shown on /health and to every caller of /execute while trading is halted.'),
    h(
      'div',
      { class: 'field actions' },
      h('button', { type: 'button', id: 'breaker-on', class: 'danger', onclick: () => setBreaker(true) }, 'Halt trading'),
      h('button', { type: 'button', id: 'breaker-off', onclick: () => setBreaker(false) }, 'Resume trading'),
    ),
    breakerResult,
  );

  // --- balances ------------------------------------------------------------------------------
  const balanceActor = select([], { id: 'balance-actor', name: 'actor_id', required: true });
  const balanceResource = select([], { id: 'balance-resource', name: 'resource', required: true });
  const balanceAmount = h('input', {
    type: 'text',
    inputmode: 'decimal',
    id: 'balance-amount',
    name: 'amount',
    required: true,
    autocomplete: 'off',
  });
  const balanceResult = h('div', { id: 'balance-result' });
  const balanceForm = h(
    'form',
    {
      id: 'balance-form',
      novalidate: true,
      onsubmit: async (e) => {
        e.preventDefault();
        // Checked here, in words, rather than by the browser's generic "match the requested format".
        const amount = balanceAmount.value.trim();
        if (!/^\d+(\.\d{1,6})?$/.test(amount)) {
          balanceAmount.setAttribute('aria-invalid', 'true');
          result(
            balanceResult,
            'error',
            amount === ''
              ? 'New balance: enter an amount.'
              : `New balance: “${amount}” is not an amount; enter a number of 0 or more with at most 6 decimal places, such as 120 or 12.5.`,
          );
          balanceAmount.focus();
          return;
        }
        balanceAmount.removeAttribute('aria-invalid');
        try {
          const change = await api('/admin/balance', {
            method: 'POST',
            body: { actor_id: balanceActor.value, resource: balanceResource.value, amount: balanceAmount.value.trim() },
            auth: true,
          });
          result(
            balanceResult,
            'success',
            `Set ${change.actor}’s ${change.resource} from ${num(change.previous)} to ${num(change.amount)} `,
            change.ledger_id
              ? [
                  '(adjustment ',
                  signed(change.adjustment),
                  ', ledger entry ',
                  proposalLink(change.proposal_id, `#${change.ledger_id}`),
                  ').',
                ]
              : '(no change needed).',
          );
          balanceAmount.value = '';
          loadAudit();
        } catch (error) {
          result(balanceResult, 'error', error.message);
          loadAudit();
        }
      },
    },
    field('Actor', balanceActor),
    field('Resource', balanceResource),
    field(
      'New balance',
      balanceAmount,
      'An exact decimal, at most 6 places. Written as an adjustment entry against world for the difference.',
    ),
    h('div', { class: 'field actions' }, h('button', { type: 'submit', id: 'balance-submit' }, 'Set balance')),
    balanceResult,
  );

  const creditActor = select([], { id: 'credit-actor', name: 'actor_id', required: true });
  const creditResult = h('div', { id: 'credit-result' });
  const creditForm = h(
    'form',
    {
      id: 'credit-form',
      onsubmit: async (e) => {
        e.preventDefault();
        try {
          const change = await api('/admin/reset-credit', { method: 'POST', body: { actor_id: creditActor.value }, auth: true });
          const source =
            {
              default_credit: 'the scenario’s default credit',
              starting_balance: 'its starting credits',
              zero: 'zero: its scenario sets none',
            }[change.default_credit_source] ?? change.default_credit_source;
          result(
            creditResult,
            'success',
            `Reset ${change.actor}’s credits from ${num(change.previous)} to ${num(change.amount)} (${source}).`,
          );
          loadAudit();
        } catch (error) {
          result(creditResult, 'error', error.message);
          loadAudit();
        }
      },
    },
    field('Actor', creditActor),
    h('div', { class: 'field actions' }, h('button', { type: 'submit', id: 'credit-submit' }, 'Reset credits')),
    creditResult,
  );

  // --- audit log -----------------------------------------------------------------------------
  const auditSlot = h('div', { id: 'audit' });
  // Reading the log is itself audited, so every refresh adds a row: hidden unless asked for.
  const showReads = h('input', { type: 'checkbox', id: 'audit-reads', onchange: () => loadAudit() });
  const auditOptions = h('div', { class: 'checkbox' }, showReads, h('label', { for: 'audit-reads' }, ' Show reads of the audit log'));
  let auditEntries = [];
  let auditCursor = null;
  async function loadAudit(older = false) {
    if (!session.key) {
      replace(auditSlot, h('p', { class: 'muted' }, 'Enter a key to read the audit log.'));
      return;
    }
    try {
      const page = await api(`/admin/audit?limit=50${older && auditCursor ? `&cursor=${auditCursor}` : ''}`, { auth: true });
      if (!alive) return;
      auditEntries = older ? auditEntries.concat(page.entries) : page.entries;
      auditCursor = page.next_cursor;
      replace(
        auditSlot,
        dataTable({
          id: 'audit-table',
          caption: 'Every admin call, allowed or denied, newest first.',
          rowClass: (r) => (r.outcome === 'applied' ? undefined : 'denied'),
          columns: [
            { key: 'id', label: '#', numeric: true },
            { key: 'at', label: 'Time', render: (r) => timeEl(r.at) },
            { key: 'admin_user', label: 'Who' },
            { key: 'action', label: 'Action' },
            {
              key: 'outcome',
              label: 'Outcome',
              render: (r) => h('span', { class: r.outcome === 'applied' ? 'outcome-ok' : 'outcome-bad' }, r.outcome),
            },
            { key: 'payload', label: 'Details', render: (r) => h('span', { class: 'details' }, summarise(r.payload)) },
          ],
          rows: showReads.checked ? auditEntries : auditEntries.filter((r) => r.action !== 'admin.audit'),
          empty: 'No audited action on this page yet.',
        }),
        auditCursor ? h('button', { type: 'button', onclick: () => loadAudit(true) }, 'Load older') : null,
      );
    } catch (error) {
      if (alive) replace(auditSlot, notice('error', error.message));
    }
  }

  async function loadBreaker() {
    try {
      const health = await api('/health', { accept: [503] });
      const b = health.checks?.circuit_breaker;
      if (!alive || !b) return;
      breakerState.textContent =
        b.state === 'open'
          ? `Trading is halted: ${b.reason ?? 'no reason given'} (by ${b.changed_by ?? '?'} at ${time(b.changed_at)}).`
          : 'Trading is running (breaker closed).';
      breakerState.dataset.state = b.state;
    } catch (error) {
      breakerState.textContent = error.message;
    }
  }

  async function loadChoices() {
    try {
      const [actors, resources] = await Promise.all([api('/actors'), api('/resources')]);
      const names = actors.actors.slice().sort((a, b) => a.name.localeCompare(b.name));
      for (const s of [balanceActor, creditActor])
        replace(
          s,
          names.map((a) => h('option', { value: a.id }, a.name)),
        );
      replace(
        balanceResource,
        resources.resources.map((r) => h('option', { value: r.name }, `${r.name} (${r.unit})`)),
      );
    } catch (error) {
      result(balanceResult, 'error', error.message);
    }
  }

  main.append(
    h('h1', {}, 'Admin console'),
    h(
      'p',
      { class: 'muted' },
      'Overrides go through the validator’s admin API and are audited, allowed or denied. Balances change only by ledger entries.',
    ),
    section('API key', keyState, keyForm, keyResult),
    h(
      'div',
      { class: 'cards' },
      section('Circuit breaker', breakerForm),
      section('Force a balance', balanceForm),
      section('Reset credit', creditForm),
    ),
    section('Audit log', auditOptions, auditSlot),
  );
  showKeyState();
  loadBreaker();
  loadChoices();
  loadAudit();

  const refreshAudit = throttle(() => loadAudit(), 1000);
  return {
    title: 'Admin',
    onEvent(type, data) {
      if (type === 'breaker' || type === 'resync') loadBreaker();
      if (type === 'breaker' || (type === 'ledger' && data.kinds?.adjustment) || type === 'resync') refreshAudit();
    },
    unmount: () => (alive = false),
  };
}
