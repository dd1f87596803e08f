import type { Deps } from '../deps.js';
import { LatchkeyError } from '../errors.js';
import { findUserByEmail, type UserRow } from '../store/users.js';
import { recordAudit, type Actor } from './audit.js';
import { sendVerification } from './email-verification.js';
import { queueMail } from './mail.js';
import { createUser, parseNewUser } from './users.js';

export interface SignUpInput {
  name?: string | undefined;
  email: string;
  password: string;
}

/**
 * Creates a self-service account and mails a link that confirms its address; it signs in once
 * the link is used. An address that already has an account gets the same answer at the same
 * cost (one argon2 hash, one email): its owner is told that someone tried, instead of a link.
 */
export async function signUp(deps: Deps, actor: Actor, input: SignUpInput, options: { returnTo?: string | undefined } = {}): Promise<void> {
  if (!deps.config.accounts.signup) throw new LatchkeyError('signup.disabled');
  const fields = { email: input.email, name: input.name, password: input.password, emailVerified: false };
  const parsed = parseNewUser(deps, fields);
  const existing = await findUserByEmail(deps.db.knex, parsed.email);
  if (existing) {
    // What creating the account would have cost.
    await deps.passwords.hash(parsed.password);
  } else {
    try {
      await deps.db.knex.transaction(async (trx) => {
        const user = await createUser(deps, actor, fields, { createdVia: 'signup', trx });
        await recordAudit(trx, actor, { type: 'user.signed_up', subject: { type: 'user', id: user.id } });
        await sendVerification(deps, trx, user, { email: user.email, returnTo: options.returnTo });
      });
      return;
    } catch (error) {
      // Taken between the lookup and the insert (which hashed already): answer as for any taken address.
      if (!(error instanceof LatchkeyError && error.code === 'user.email_taken')) throw error;
    }
  }
  const owner = existing ?? (await findUserByEmail(deps.db.knex, parsed.email));
  if (owner) await tellOwner(deps, actor, owner, options.returnTo);
}

async function tellOwner(deps: Deps, actor: Actor, owner: UserRow, returnTo: string | undefined): Promise<void> {
  const forgot = new URL('/password/forgot', deps.config.http.issuer);
  if (returnTo) forgot.searchParams.set('return_to', returnTo);
  await deps.db.knex.transaction(async (trx) => {
    await queueMail(deps, trx, {
      to: owner.email,
      subject: 'You already have an account',
      template: 'account-exists',
      locals: { name: owner.name, forgotUrl: forgot.href },
    });
    await recordAudit(trx, actor, { type: 'user.signed_up', outcome: 'failure', subject: { type: 'user', id: owner.id }, details: { reason: 'email_taken' } });
  });
}
