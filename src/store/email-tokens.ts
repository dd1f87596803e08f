import type { Knex } from 'knex';
import { deleteBatch } from './sql.js';

export type EmailTokenPurpose = 'verify_email' | 'reset_password';

export interface EmailTokenRow {
  id: string;
  purpose: EmailTokenPurpose;
  userId: string;
  email: string;
  returnTo: string | null;
  expiresAt: Date;
}

interface EmailTokenColumns {
  id: string;
  purpose: EmailTokenPurpose;
  user_id: string;
  email: string;
  return_to: string | null;
  expires_at: Date | string;
}

function fromColumns(row: EmailTokenColumns): EmailTokenRow {
  return { id: row.id, purpose: row.purpose, userId: row.user_id, email: row.email, returnTo: row.return_to, expiresAt: new Date(row.expires_at) };
}

export async function insertEmailToken(
  db: Knex,
  token: { tokenHash: string; purpose: EmailTokenPurpose; userId: string; email: string; returnTo: string | null; expiresAt: Date },
): Promise<void> {
  await db('email_tokens').insert({
    token_hash: token.tokenHash,
    purpose: token.purpose,
    user_id: token.userId,
    email: token.email,
    return_to: token.returnTo,
    expires_at: token.expiresAt,
  });
}

/** A live, unused token for `purpose`, without using it (the page that asks for a new password). */
export async function findEmailToken(db: Knex, tokenHash: string, purpose: EmailTokenPurpose, now: Date): Promise<EmailTokenRow | undefined> {
  const row = await db('email_tokens')
    .select<EmailTokenColumns[]>('*')
    .where({ token_hash: tokenHash, purpose })
    .whereNull('used_at')
    .andWhere('expires_at', '>', now)
    .first();
  return row ? fromColumns(row) : undefined;
}

/** Uses a token in one statement: of two concurrent uses exactly one gets the row. */
export async function consumeEmailToken(db: Knex, tokenHash: string, purpose: EmailTokenPurpose, now: Date): Promise<EmailTokenRow | undefined> {
  const [row] = (await db('email_tokens')
    .where({ token_hash: tokenHash, purpose })
    .whereNull('used_at')
    .andWhere('expires_at', '>', now)
    .update({ used_at: now })
    .returning('*')) as EmailTokenColumns[];
  return row ? fromColumns(row) : undefined;
}

/** A new link replaces the old ones: only the latest reset or verification link works. */
export async function retireEmailTokens(db: Knex, userId: string, purpose: EmailTokenPurpose, now: Date): Promise<void> {
  await db('email_tokens').where({ user_id: userId, purpose }).whereNull('used_at').update({ used_at: now });
}

export async function deleteExpiredEmailTokens(db: Knex, now: Date, batch: number): Promise<number> {
  return deleteBatch(db, 'email_tokens', 'id', (query) => query.where('expires_at', '<', now), batch);
}
