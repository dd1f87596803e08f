import type { Router } from '@koa/router';
import { listUserSessions, signOutOtherSessions, signOutSession } from '../domain/sessions.js';
import type { FirstPartySession } from '../http/first-party/session.js';
import { seeOther } from '../http/forms.js';
import { principal, type AccountKit } from './kit.js';

/** /account/sessions: where the user is signed in, and signing out any of it. */
export function sessionRoutes(router: Router, kit: AccountKit, session: FirstPartySession): void {
  const { deps, guard } = kit;

  const appName = async (clientId: string) => (await deps.catalog.client(clientId))?.name ?? clientId;

  router.get('/sessions', ...guard, async (ctx) => {
    const { user, sessionUid } = principal(ctx);
    const sessions = await Promise.all(
      (await listUserSessions(deps, user.id)).map(async (record) => ({
        uid: record.uid,
        signedInAt: record.loginTs === undefined ? null : new Date(record.loginTs * 1000),
        expiresAt: record.expiresAt,
        apps: await Promise.all(Object.keys(record.authorizations).map(appName)),
        current: record.uid === sessionUid,
      })),
    );
    await kit.page(ctx, 'sessions', { sessions });
  });

  router.post('/sessions/:uid/sign-out', ...guard, async (ctx) => {
    const { user, actor, sessionUid } = principal(ctx);
    const uid = ctx.params.uid!;
    await signOutSession(deps, actor, user.id, uid);
    if (uid !== sessionUid) return kit.done(ctx, '/account/sessions', 'account.sessions.signed_out');
    // This very browser: the account page's token ended with the session.
    session.forget(ctx);
    seeOther(ctx, '/account/signed-out');
  });

  router.post('/sessions/sign-out-others', ...guard, async (ctx) => {
    const { user, actor, sessionUid } = principal(ctx);
    const ended = await signOutOtherSessions(deps, actor, user.id, sessionUid);
    if (ended === 1) kit.done(ctx, '/account/sessions', 'account.sessions.signed_out_others_one');
    else kit.done(ctx, '/account/sessions', 'account.sessions.signed_out_others', { count: ended });
  });
}
