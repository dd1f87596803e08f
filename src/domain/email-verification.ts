import { randomBytes } from 'node:crypto';
import type { Knex } from 'knex';
import { z } from 'zod';
import type { Deps } from '../deps.js';
import { LatchkeyError } from '../errors.js';
import { consumeEmailToken, findEmailToken, insertEmailToken, retireEmailTokens, type EmailTokenPurpose } from '../store/email-tokens.js';
import { findUserByEmail, findUserById, updateUser as updateUserRow, type UserRow } from '../store/users.js';
import { now } from '../util/clock.js';
import { sha256 } from '../util/digest.js';
import { recordAudit, type Actor } from './audit.js';
import { emitEvent } from './events/emit.js';
import { userData } from './events/catalog.js';
import { queueMail } from './mail.js';
import { assertNotThrottled, emailThrottle, recordFailure } from './throttle.js';
import { emailAddress } from './users.js';
import { parseInput } from './validation.js';

const UNITS = [
  [86400, 'day'],
  [3600, 'hour'],
  [60, 'minute'],
  [1, 'second'],
] as const;

/** "1 day", "30 minutes": how long a link lasts, in the words the email and the page use. */
export function describeDuration(seconds: number): string {
  const [size, unit] = UNITS.find(([candidate]) => seconds >= candidate && seconds % candidate === 0) ?? UNITS[3];
  const count = Math.round(seconds / size);
  return `${count} ${unit}${count === 1 ? '' : 's'}`;
}

const LINK_PATHS: Record<EmailTokenPurpose, string> = { verify_email: '/verify-email', reset_password: '/password/reset' };

export interface EmailLink {
  url: string;
  /** How long it stays good, for the email to say. */
  lasts: string;
}

/**
 * A single-use link for one purpose, in the caller's transaction. The token is 32 random bytes
 * and only its digest is stored; the user's older unused links for the same purpose stop working.
 */
export async function issueEmailLink(
  deps: Deps,
  trx: Knex,
  purpose: EmailTokenPurpose,
  user: UserRow,
  options: { email: string; returnTo?: string | undefined },
): Promise<EmailLink> {
  const at = now();
  const ttl = purpose === 'verify_email' ? deps.config.accounts.emailLinkTtl : deps.config.accounts.resetLinkTtl;
  const token = randomBytes(32).toString('base64url');
  await retireEmailTokens(trx, user.id, purpose, at);
  await insertEmailToken(trx, {
    tokenHash: sha256(token),
    purpose,
    userId: user.id,
    email: options.email,
    returnTo: options.returnTo ?? null,
    expiresAt: new Date(at.getTime() + ttl * 1000),
  });
  return { url: `${deps.config.http.issuer}${LINK_PATHS[purpose]}?token=${token}`, lasts: describeDuration(ttl) };
}

/** Whoever holds a link sent to a user's address acts as that user. */
export function linkHolder(actor: Actor, userId: string): Actor {
  return { type: 'user', id: userId, ip: actor.ip };
}

/**
 * Mails a link that confirms `email` for the user: their own address (after sign-up) or the new
 * one they asked to change to. `returnTo` is a same-origin path the confirmation page links to.
 */
export async function sendVerification(deps: Deps, trx: Knex, user: UserRow, options: { email: string; returnTo?: string | undefined }): Promise<void> {
  const link = await issueEmailLink(deps, trx, 'verify_email', user, options);
  const change = options.email !== user.email;
  await queueMail(deps, trx, {
    to: options.email,
    subject: change ? 'Confirm your new email address' : 'Confirm your email address',
    template: 'verify-email',
    locals: { link: link.url, lasts: link.lasts, change, name: user.name },
  });
}

/** The address a verification link would confirm, without using it (the page with the button). */
export async function verificationTarget(deps: Deps, token: string): Promise<{ email: string }> {
  const link = await findEmailToken(deps.db.knex, sha256(token), 'verify_email', now());
  if (!link) throw new LatchkeyError('email_link.invalid');
  return { email: link.email };
}

export interface VerifiedEmail {
  email: string;
  /** The link confirmed a new address, which is now the account's. */
  changed: boolean;
  returnTo: string | null;
}

/** Uses a verification link: the address it was sent to is confirmed and becomes the account's. */
export async function verifyEmail(deps: Deps, actor: Actor, token: string): Promise<VerifiedEmail> {
  return deps.db.knex.transaction(async (trx) => {
    const link = await consumeEmailToken(trx, sha256(token), 'verify_email', now());
    const user = link ? await findUserById(trx, link.userId) : undefined;
    if (!link || !user) throw new LatchkeyError('email_link.invalid');
    const changed = link.email !== user.email;
    // Another account may have taken the address since the link was sent: that refusal rolls the use back.
    const verified = (await updateUserRow(trx, user.id, changed ? { email: link.email, emailVerified: true } : { emailVerified: true }))!;
    // Reset links mailed to the old address must not outlive the move away from it.
    if (changed) await retireEmailTokens(trx, user.id, 'reset_password', now());
    await recordAudit(trx, linkHolder(actor, user.id), {
      type: changed ? 'user.email_changed' : 'user.email_verified',
      subject: { type: 'user', id: user.id },
    });
    if (changed) await emitEvent(trx, 'user.updated', { user: userData(verified), changed: ['email', ...(user.emailVerified ? [] : ['email_verified'])] });
    await emitEvent(trx, 'user.email_verified', { user: userData(verified) });
    return { email: link.email, changed, returnTo: link.returnTo };
  });
}

/**
 * A new link for a self-service account that has not confirmed its address yet. Anything else
 * (no such account, already confirmed) sends nothing; the caller answers the same either way.
 */
export async function resendVerification(deps: Deps, email: string, options: { returnTo?: string | undefined }): Promise<void> {
  const address = email.trim();
  const user = address.length > 0 && address.length <= 254 ? await findUserByEmail(deps.db.knex, address) : undefined;
  if (!user || user.createdVia !== 'signup' || user.emailVerified || user.disabled) return;
  await deps.db.knex.transaction((trx) => sendVerification(deps, trx, user, { email: user.email, returnTo: options.returnTo }));
}

/**
 * The account page's email change: a link goes to the new address, and the account uses it only
 * once that link is opened, so a typo cannot move the account to an address its owner does not
 * read. The current address is told, with the way to stop a change made from a stolen session
 * (a password reset retires the pending link). An address another account uses gets the same
 * answer and its link fails when used, so the form does not tell which addresses have accounts.
 */
export async function requestEmailChange(deps: Deps, actor: Actor, userId: string, newEmail: string): Promise<void> {
  const { email } = parseInput(z.object({ email: emailAddress }), { email: newEmail });
  const user = await findUserById(deps.db.knex, userId);
  if (!user) throw new LatchkeyError('user.not_found', `no user with id ${userId}`);
  if (email.toLowerCase() === user.email.toLowerCase()) {
    throw new LatchkeyError('input.invalid', 'email: is already the address of this account', { details: { email: 'is already the address of this account' } });
  }
  const throttle = emailThrottle(deps, 'email-change', user.email, actor.ip ?? 'unknown');
  await assertNotThrottled(deps, throttle);
  await recordFailure(deps, throttle);
  await deps.db.knex.transaction(async (trx) => {
    await sendVerification(deps, trx, user, { email, returnTo: '/account' });
    await queueMail(deps, trx, {
      to: user.email,
      subject: 'Your email address is being changed',
      template: 'email-change-requested',
      locals: { name: user.name, newEmail: email, resetUrl: `${deps.config.http.issuer}/password/forgot` },
    });
  });
  deps.log.info({ userId, actor: { type: actor.type, id: actor.id } }, 'email change requested; it takes effect when the link sent to the new address is used');
}
