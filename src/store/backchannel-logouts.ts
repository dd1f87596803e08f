import type { Knex } from 'knex';

export interface PendingLogout {
  id: string;
  clientId: string;
  accountId: string;
  sid: string | null;
  attempts: number;
}

interface LogoutColumns {
  id: string | number;
  client_id: string;
  account_id: string;
  sid: string | null;
  attempts: number;
}

export async function queueLogouts(db: Knex, logouts: Array<{ clientId: string; accountId: string; sid: string | null }>): Promise<void> {
  if (logouts.length === 0) return;
  await db('backchannel_logouts').insert(logouts.map((logout) => ({ client_id: logout.clientId, account_id: logout.accountId, sid: logout.sid })));
}

/**
 * Claims up to `limit` due logouts for this sender: each row is pushed into the future while it
 * is being sent, so another node polling at the same moment skips it (SKIP LOCKED) and a sender
 * that dies leaves it to be retried after `leaseSeconds`.
 */
export async function claimDueLogouts(db: Knex, now: Date, limit: number, leaseSeconds: number): Promise<PendingLogout[]> {
  const rows = (await db('backchannel_logouts')
    .whereIn(
      'id',
      db('backchannel_logouts').select('id').where('next_attempt_at', '<=', now).orderBy('next_attempt_at').limit(limit).forUpdate().skipLocked(),
    )
    .update({ next_attempt_at: new Date(now.getTime() + leaseSeconds * 1000), attempts: db.raw('attempts + 1') })
    .returning(['id', 'client_id', 'account_id', 'sid', 'attempts'])) as LogoutColumns[];
  return rows.map((row) => ({ id: String(row.id), clientId: row.client_id, accountId: row.account_id, sid: row.sid, attempts: row.attempts }));
}

export async function deleteLogout(db: Knex, id: string): Promise<void> {
  await db('backchannel_logouts').where({ id }).delete();
}

export async function retryLogoutLater(db: Knex, id: string, at: Date, error: string): Promise<void> {
  await db('backchannel_logouts').where({ id }).update({ next_attempt_at: at, last_error: error.slice(0, 500) });
}
