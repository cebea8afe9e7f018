import type { Admin } from '../governance/admin.ts';
import type { ActivityPublisher } from '../ledger/reads/activity.ts';

/**
 * The admin actions, announcing the adjustments they committed to live dashboards. The
 * announcement follows the commit and never fails the call. (Trades are announced by the group
 * committer's commit hook.)
 */
export function withLiveAdmin(admin: Admin, activity: ActivityPublisher): Admin {
  return {
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
  };
}
