import { z } from 'zod';
import type { Deps } from '../deps.js';
import { LatchkeyError } from '../errors.js';
import { consumeEmailToken, findEmailToken } from '../store/email-tokens.js';
import { findUserByEmail, findUserById, updateUser as updateUserRow } from '../store/users.js';
import { now } from '../util/clock.js';
import { sha256 } from '../util/digest.js';
import { recordAudit, type Actor } from './audit.js';
import { emitEvent } from './events/emit.js';
import { userData } from './events/catalog.js';
import { issueEmailLink, linkHolder } from './email-verification.js';
import { queueMail } from './mail.js';
import { passwordProblem } from './password-policy.js';
import { emailAddress, setUserPassword } from './users.js';
import { parseInput } from './validation.js';

/**
 * Mails a reset link to the account that uses `email`. An address no account uses gets a mail
 * saying so instead, so both answers cost the same and the caller cannot tell them apart.
 */
export async function requestPasswordReset(deps: Deps, actor: Actor, email: string, options: { returnTo?: string | undefined }): Promise<void> {
  const { email: address } = parseInput(z.object({ email: emailAddress }), { email });
  const user = await findUserByEmail(deps.db.knex, address);
  await deps.db.knex.transaction(async (trx) => {
    if (user) {
      const link = await issueEmailLink(deps, trx, 'reset_password', user, { email: user.email, returnTo: options.returnTo });
      await queueMail(deps, trx, { to: user.email, subject: 'Reset your password', template: 'reset-password', locals: { link: link.url, lasts: link.lasts, name: user.name } });
      await recordAudit(trx, actor, { type: 'user.password_reset_requested', subject: { type: 'user', id: user.id } });
      return;
    }
    const signup = new URL('/signup', deps.config.http.issuer);
    if (options.returnTo) signup.searchParams.set('return_to', options.returnTo);
    await queueMail(deps, trx, {
      to: address,
      subject: 'Your password reset request',
      template: 'no-account',
      locals: { email: address, signupUrl: deps.config.accounts.signup ? signup.href : null },
    });
    await recordAudit(trx, actor, { type: 'user.password_reset_requested', outcome: 'failure', details: { reason: 'no_account' } });
  });
}

/** The account a reset link is for, without using it (the page that asks for the new password). */
export async function passwordResetTarget(deps: Deps, token: string): Promise<{ email: string }> {
  const link = await findEmailToken(deps.db.knex, sha256(token), 'reset_password', now());
  if (!link) throw new LatchkeyError('email_link.invalid');
  return { email: link.email };
}

/**
 * Uses a reset link to set a new password. The password is judged before the link is used, so
 * a refused one leaves the link working for another try. Every session and refresh token of
 * the account ends (setUserPassword), other reset links stop working, and since the link
 * reached the account's address, that address counts as confirmed.
 */
export async function resetPassword(deps: Deps, actor: Actor, token: string, password: string): Promise<{ returnTo: string | null }> {
  const digest = sha256(token);
  const pending = await findEmailToken(deps.db.knex, digest, 'reset_password', now());
  const user = pending ? await findUserById(deps.db.knex, pending.userId) : undefined;
  if (!user) throw new LatchkeyError('email_link.invalid');
  const problem = passwordProblem(password, { minLength: deps.config.accounts.passwordMinLength, email: user.email });
  if (problem) throw new LatchkeyError('input.invalid', `password: ${problem}`, { details: { password: problem } });

  const holder = linkHolder(actor, user.id);
  let returnTo: string | null = null;
  await setUserPassword(deps, holder, user.id, { password }, {
    reason: 'reset',
    async authorise(trx) {
      // Of two uses of one link, only the one that gets the row goes on; a link sent to an
      // address the account has since left is no longer the account's.
      const link = await consumeEmailToken(trx, digest, 'reset_password', now());
      if (!link || link.email.toLowerCase() !== user.email.toLowerCase()) throw new LatchkeyError('email_link.invalid');
      returnTo = link.returnTo;
      if (!user.emailVerified) {
        const verified = (await updateUserRow(trx, user.id, { emailVerified: true }))!;
        await recordAudit(trx, holder, { type: 'user.email_verified', subject: { type: 'user', id: user.id }, details: { via: 'password_reset' } });
        await emitEvent(trx, 'user.email_verified', { user: userData(verified) });
      }
    },
  });
  return { returnTo };
}
