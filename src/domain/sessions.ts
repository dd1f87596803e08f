import type { Knex } from 'knex';
import type { Deps } from '../deps.js';
import { LatchkeyError } from '../errors.js';
import { queueLogouts } from '../store/backchannel-logouts.js';
import { deletePayloadsByAccountId, deleteSession, listSessions, type SessionRecord } from '../store/oidc-payloads.js';
import { now } from '../util/clock.js';
import { recordAudit, type Actor } from './audit.js';

/**
 * Every application signed in through these sessions gets an OpenID Connect back-channel
 * logout. The logouts are queued in the same transaction as the change that ended the
 * sessions, so a change made from the CLI reaches the applications through a running server,
 * and a change that rolls back sends nothing.
 */
async function queueLogoutsFor(trx: Knex, sessions: SessionRecord[]): Promise<void> {
  await queueLogouts(
    trx,
    sessions.flatMap((session) =>
      Object.entries(session.authorizations).map(([clientId, authorization]) => ({ clientId, accountId: session.accountId, sid: authorization.sid ?? null })),
    ),
  );
}

/**
 * Ends a user's sign-in sessions and deletes what let them act without signing in again:
 * refresh tokens always, and whatever else `models` names (disabling ends grants and codes too).
 * `exceptUid` keeps the session the user is acting from (changing their own password).
 */
export async function endUserSessions(
  trx: Knex,
  accountId: string,
  options: { exceptUid?: string | undefined; alsoEnd?: string[] } = {},
): Promise<void> {
  const sessions = (await listSessions(trx, accountId, now())).filter((session) => session.uid !== options.exceptUid);
  await queueLogoutsFor(trx, sessions);
  for (const session of sessions) await deleteSession(trx, accountId, session.uid);
  await deletePayloadsByAccountId(trx, accountId, ['RefreshToken', ...(options.alsoEnd ?? [])]);
}

/** Signs one session out (the account page's "sign out" on a device). */
export async function endOneSession(trx: Knex, accountId: string, uid: string): Promise<boolean> {
  const session = (await listSessions(trx, accountId, now())).find((candidate) => candidate.uid === uid);
  if (!session) return false;
  await queueLogoutsFor(trx, [session]);
  return deleteSession(trx, accountId, uid);
}

/** A user's live sign-in sessions, the most recent sign-in first. */
export async function listUserSessions(deps: Deps, userId: string): Promise<SessionRecord[]> {
  return listSessions(deps.db.knex, userId, now());
}

async function signOutAudited(trx: Knex, actor: Actor, userId: string, uid: string): Promise<boolean> {
  if (!(await endOneSession(trx, userId, uid))) return false;
  await recordAudit(trx, actor, { type: 'user.session_ended', subject: { type: 'session', id: uid }, details: { user_id: userId } });
  return true;
}

/** Signs one of the user's sessions out; `session.not_found` when it is not theirs or has already ended. */
export async function signOutSession(deps: Deps, actor: Actor, userId: string, uid: string): Promise<void> {
  await deps.db.knex.transaction(async (trx) => {
    if (!(await signOutAudited(trx, actor, userId, uid))) throw new LatchkeyError('session.not_found');
  });
}

/**
 * Signs out every session of the user but the one they act from. Unlike endUserSessions, the
 * refresh tokens of applications signed in through the kept session stay.
 */
export async function signOutOtherSessions(deps: Deps, actor: Actor, userId: string, keepUid: string | undefined): Promise<number> {
  return deps.db.knex.transaction(async (trx) => {
    let ended = 0;
    for (const session of await listSessions(trx, userId, now())) {
      if (session.uid !== keepUid && (await signOutAudited(trx, actor, userId, session.uid))) ended += 1;
    }
    return ended;
  });
}
