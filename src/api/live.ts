import type { Admin } from '../governance/admin.ts';
import type { ActivityPublisher } from '../ledger/activity.ts';
import type { Executor } from '../ledger/execute.ts';

/**
 * The executor and the admin actions, announcing what they committed to live dashboards. The
 * announcement follows the commit and never fails the call.
 */
export function withLiveEvents(parts: { executor: Executor; admin: Admin; activity: ActivityPublisher }): { executor: Executor; admin: Admin } {
  const { executor, admin, activity } = parts;
  return {
    executor: {
      ...executor,
      async execute(item) {
        const outcome = await executor.execute(item);
        activity.decided([outcome]);
        return outcome;
      },
      async executeBatch(items) {
        const outcomes = await executor.executeBatch(items);
        activity.decided(outcomes);
        return outcomes;
      },
    },
    admin: {
      ...admin,
      async setBalance(input) {
        const change = await admin.setBalance(input);
        if (change.proposal_id && change.ledger_id !== null) activity.appended(change.proposal_id, [change.ledger_id], 'adjustment');
        return change;
      },
      async resetCredit(input) {
        const change = await admin.resetCredit(input);
        if (change.proposal_id && change.ledger_id !== null) activity.appended(change.proposal_id, [change.ledger_id], 'adjustment');
        return change;
      },
    },
  };
}
