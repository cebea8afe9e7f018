import { canonicalLegs, type Leg } from '../../src/domain/proposal.ts';
import { microFromDb, parseAmount } from '../../src/domain/money.ts';
import type { Db } from '../../src/db/db.ts';
import { linearIssueIdFor } from '../../src/notify/linear.ts';
import { invariantViolations } from '../support/invariants.ts';
import type { SendRecord } from './clients.ts';
import type { WireLeg } from './workload.ts';

/**
 * The bank test's verdict, from what the clients were told and what the database holds:
 * - DESIGN §8 invariants 1, 2, 4, 5 (invariantViolations);
 * - every acknowledged `applied` is in the ledger exactly once, under the acknowledged ledger ids,
 *   with the acknowledged payload;
 * - no proposal id got two outcomes across all replies (200 and 422, two ledger id sets, two
 *   error codes, or outcomes for two different payloads), and a 409 only ever refused a payload
 *   other than the one that was decided;
 * - a rejected id has exactly one rejection row, with the code the client saw, and no ledger row;
 * - nothing was decided for an id no client sent;
 * - no rejection has two tickets: at most one Linear issue (and one successful issueCreate) per
 *   proposal, and, once the outbox is drained, exactly one.
 */

export interface TicketView {
  /** Linear issues by issue id, as the fake holds them. */
  issues: Map<string, { id: string; title: string }>;
  /** Successful issueCreate calls per issue id. */
  creates: Map<string, number>;
}

export interface Verdict {
  violations: string[];
  stats: {
    ids: number;
    applied: number;
    rejected: number;
    /** Ids whose first decision no client heard (a 503 or a cut reply), found by a retry's replay. */
    inDoubtSettled: number;
    /** Ids answered only 503 (by code) before a replay showed them recorded (see settledInDoubt). */
    recordedDespite503: Map<string, number>;
    linearIssues: number;
  };
}

interface LedgerRow {
  proposal_id: string;
  leg: number;
  id: number;
  actor_from: string;
  actor_to: string;
  resource: string;
  amount: string;
}

interface RejectionRow {
  proposal_id: string;
  validation_error_code: string;
  canonical: string;
  rows: number;
}

/** The engine's canonical form of what the harness sent: actor names resolved to ids. */
function engineCanonical(legs: ReadonlyArray<WireLeg>, actorIds: Map<string, string>): string {
  const resolved: Leg[] = legs.map((leg) => {
    const amount = parseAmount(leg.amount);
    return {
      actor_from: actorIds.get(leg.actor_from) ?? leg.actor_from,
      actor_to: actorIds.get(leg.actor_to) ?? leg.actor_to,
      resource: leg.resource,
      amount: amount.ok ? amount.value : 0n,
    };
  });
  return canonicalLegs(resolved);
}

export async function checkRun(
  db: Db,
  records: ReadonlyArray<SendRecord>,
  tickets: TicketView,
  options: { drained: boolean },
): Promise<Verdict> {
  const violations: string[] = [];
  const add = (rule: string, message: string) => violations.push(`${rule}: ${message}`);
  for (const message of await invariantViolations(db)) add('invariant', message);

  const actorIds = new Map(
    (await db.query<{ id: string; name: string }>('SELECT id::text, name FROM actors')).rows.map((r) => [r.name, r.id]),
  );
  const ledger = new Map<string, LedgerRow[]>();
  for (const row of (
    await db.query<LedgerRow>(
      `SELECT proposal_id::text, leg, id, actor_from::text, actor_to::text, resource, amount::text
         FROM ledger WHERE kind = 'trade' ORDER BY proposal_id, leg`,
    )
  ).rows) {
    ledger.set(row.proposal_id, [...(ledger.get(row.proposal_id) ?? []), row]);
  }
  const rejections = new Map(
    (
      await db.query<RejectionRow>(
        `SELECT proposal_id::text, min(validation_error_code) AS validation_error_code, min(canonical) AS canonical, count(*)::int AS rows
           FROM rejected_proposals GROUP BY proposal_id`,
      )
    ).rows.map((r) => [r.proposal_id, r]),
  );

  const byId = new Map<string, SendRecord[]>();
  for (const record of records) byId.set(record.send.id, [...(byId.get(record.send.id) ?? []), record]);

  let applied = 0;
  let rejected = 0;
  let inDoubtSettled = 0;
  const recordedDespite503 = new Map<string, number>();
  for (const [id, sends] of byId) {
    const decisive = sends.filter((s) => s.decisive && s.decisive.status !== 409);
    const conflicts = sends.filter((s) => s.decisive?.status === 409);
    const rows = ledger.get(id) ?? [];
    const rejection = rejections.get(id);
    const keys = new Set(decisive.map((s) => s.send.key));
    const statuses = new Set(decisive.map((s) => s.decisive!.status));
    if (keys.size > 1) add('two outcomes', `${id} was decided for ${keys.size} different payloads`);
    if (statuses.size > 1) add('two outcomes', `${id} was answered both ${[...statuses].join(' and ')}`);
    const ledgerIdSets = new Set(decisive.filter((s) => s.decisive!.status === 200).map((s) => JSON.stringify(s.decisive!.ledgerIds)));
    if (ledgerIdSets.size > 1) add('two outcomes', `${id} was acknowledged with ledger ids ${[...ledgerIdSets].join(' and ')}`);
    const codes = new Set(decisive.filter((s) => s.decisive!.status === 422).map((s) => s.decisive!.errorCode));
    if (codes.size > 1) add('two outcomes', `${id} was rejected with ${[...codes].join(' and ')}`);

    /**
     * No client heard the first decision (every decisive reply is a replay): an attempt that got
     * no answer or a 503 had in fact been recorded. When only 503s came back, the 503 was given
     * for a proposal that had been recorded (a commit whose reply was lost with the connection).
     */
    const settledInDoubt = (status: number) => {
      if (decisive.some((s) => s.decisive!.status === status && s.decisive!.replayed === false)) return;
      inDoubtSettled++;
      const failures = sends.flatMap((s) => s.replies.filter((r) => r !== s.decisive));
      if (failures.length > 0 && failures.every((r) => r.status === 503)) {
        const codes = [...new Set(failures.map((r) => r.code ?? '?'))].sort().join(' or ');
        recordedDespite503.set(codes, (recordedDespite503.get(codes) ?? 0) + 1);
      }
    };

    // What the database says this id settled as, in the engine's canonical form.
    const storedCanonical = rows.length
      ? canonicalLegs(
          rows.map((r) => ({ actor_from: r.actor_from, actor_to: r.actor_to, resource: r.resource, amount: microFromDb(r.amount) })),
        )
      : rejection?.canonical;

    const acks = decisive.filter((s) => s.decisive!.status === 200);
    const acked = acks[0];
    if (acked) {
      applied++;
      const actual = JSON.stringify(rows.map((r) => r.id));
      if (rows.length !== acked.send.legs.length)
        add('acknowledged applied', `${id} has ${rows.length} ledger rows for ${acked.send.legs.length} legs`);
      const wrong = acks.find((s) => JSON.stringify(s.decisive!.ledgerIds) !== actual);
      if (wrong)
        add(
          'acknowledged applied',
          `${id} was acknowledged as ledger ${JSON.stringify(wrong.decisive!.ledgerIds)}, the ledger holds ${actual}`,
        );
      if (rows.length && acks.some((s) => storedCanonical !== engineCanonical(s.send.legs, actorIds))) {
        add('acknowledged applied', `${id} is in the ledger with another payload than the acknowledged one`);
      }
      if (rejection) add('acknowledged applied', `${id} was acknowledged applied but has a rejection row`);
      settledInDoubt(200);
    }
    const refusals = decisive.filter((s) => s.decisive!.status === 422);
    if (refusals.length > 0) {
      rejected++;
      if (!rejection) add('rejected', `${id} was answered 422 but has no rejection row`);
      else {
        if (rejection.rows !== 1) add('rejected', `${id} has ${rejection.rows} rejection rows`);
        const relabelled = refusals.find((s) => s.decisive!.errorCode !== rejection.validation_error_code);
        if (relabelled)
          add('rejected', `${id} was answered ${relabelled.decisive!.errorCode}, recorded as ${rejection.validation_error_code}`);
        if (refusals.some((s) => rejection.canonical !== engineCanonical(s.send.legs, actorIds))) {
          add('rejected', `${id} is recorded as rejected with another payload than the refused one`);
        }
      }
      if (rows.length) add('rejected', `${id} was answered 422 but has ${rows.length} ledger rows`);
      settledInDoubt(422);
    }
    for (const conflict of conflicts) {
      if (storedCanonical === undefined) add('conflict', `${id} was refused as a conflict but nothing is recorded for it`);
      else if (storedCanonical === engineCanonical(conflict.send.legs, actorIds))
        add('conflict', `${id} was refused as a conflict with the very payload that was recorded`);
    }
  }

  for (const id of new Set([...ledger.keys(), ...rejections.keys()])) {
    if (!byId.has(id)) add('phantom', `${id} is recorded but no client sent it`);
  }

  // Tickets: one Linear issue per rejected proposal, never two.
  const issuesPerProposal = new Map<string, number>();
  for (const issue of tickets.issues.values()) {
    const proposal = /Rejected proposal ([0-9a-f-]{36})/.exec(issue.title)?.[1] ?? `?${issue.id}`;
    issuesPerProposal.set(proposal, (issuesPerProposal.get(proposal) ?? 0) + 1);
  }
  for (const [proposal, count] of issuesPerProposal) if (count > 1) add('tickets', `${proposal} has ${count} Linear issues`);
  for (const [issueId, count] of tickets.creates) if (count > 1) add('tickets', `issue ${issueId} was created ${count} times`);
  for (const proposal of issuesPerProposal.keys())
    if (!rejections.has(proposal)) add('tickets', `a Linear issue names ${proposal}, which was not rejected`);
  if (options.drained) {
    for (const proposal of rejections.keys()) {
      if (!tickets.issues.has(linearIssueIdFor(proposal)))
        add('tickets', `rejected ${proposal} has no Linear issue after the outbox drained`);
    }
    const refs = await db.query<{ proposal_id: string; ref: string | null }>(
      `SELECT payload->>'proposal_id' AS proposal_id, external_ref->>'id' AS ref FROM outbox WHERE topic = 'linear' AND status = 'delivered'`,
    );
    for (const row of refs.rows) {
      if (row.ref !== linearIssueIdFor(row.proposal_id)) add('tickets', `outbox row of ${row.proposal_id} points at issue ${row.ref}`);
    }
  }

  return {
    violations,
    stats: { ids: byId.size, applied, rejected, inDoubtSettled, recordedDespite503, linearIssues: tickets.issues.size },
  };
}
