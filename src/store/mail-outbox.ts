import type { Knex } from 'knex';
import { deleteBatch } from './sql.js';

export type MailStatus = 'pending' | 'held' | 'sent' | 'failed';

export interface MailRow {
  id: string;
  to: string;
  subject: string;
  text: string;
  html: string;
  status: MailStatus;
  attempts: number;
  lastError: string | null;
  createdAt: Date;
  sentAt: Date | null;
}

interface MailColumns {
  id: string | number;
  to_address: string;
  subject: string;
  text_body: string;
  html_body: string;
  status: MailStatus;
  attempts: number;
  last_error: string | null;
  created_at: Date | string;
  sent_at: Date | string | null;
}

function fromColumns(row: MailColumns): MailRow {
  return {
    id: String(row.id),
    to: row.to_address,
    subject: row.subject,
    text: row.text_body,
    html: row.html_body,
    status: row.status,
    attempts: row.attempts,
    lastError: row.last_error,
    createdAt: new Date(row.created_at),
    sentAt: row.sent_at === null ? null : new Date(row.sent_at),
  };
}

export async function insertMail(db: Knex, mail: { to: string; subject: string; text: string; html: string; status: 'pending' | 'held' }): Promise<string> {
  const [row] = await db('mail_outbox')
    .insert({ to_address: mail.to, subject: mail.subject, text_body: mail.text, html_body: mail.html, status: mail.status })
    .returning('id');
  return String((row as { id: string | number }).id);
}

/** Claims due mail for one sender; like back-channel logouts, a lease keeps other nodes off it. */
export async function claimDueMail(db: Knex, now: Date, limit: number, leaseSeconds: number): Promise<MailRow[]> {
  const rows = (await db('mail_outbox')
    .whereIn(
      'id',
      db('mail_outbox').select('id').where({ status: 'pending' }).andWhere('next_attempt_at', '<=', now).orderBy('next_attempt_at').limit(limit).forUpdate().skipLocked(),
    )
    .update({ next_attempt_at: new Date(now.getTime() + leaseSeconds * 1000), attempts: db.raw('attempts + 1') })
    .returning('*')) as MailColumns[];
  return rows.map(fromColumns);
}

/** Delivered: the body goes, so the database does not keep a usable link longer than needed. */
export async function markMailSent(db: Knex, id: string, at: Date): Promise<void> {
  await db('mail_outbox').where({ id }).update({ status: 'sent', sent_at: at, text_body: '', html_body: '', last_error: null });
}

export async function retryMailLater(db: Knex, id: string, at: Date, error: string, giveUp: boolean): Promise<void> {
  await db('mail_outbox')
    .where({ id })
    .update({ next_attempt_at: at, last_error: error.slice(0, 500), ...(giveUp ? { status: 'failed' } : {}) });
}

/** Newest first, for the admin console. */
export async function listMail(db: Knex, options: { limit: number; before?: string }): Promise<MailRow[]> {
  const query = db<MailColumns>('mail_outbox').orderBy('id', 'desc').limit(options.limit);
  if (options.before !== undefined) query.where('id', '<', options.before);
  return (await query).map(fromColumns);
}

export async function findMail(db: Knex, id: string): Promise<MailRow | undefined> {
  if (!/^\d{1,18}$/.test(id)) return undefined;
  const row = await db<MailColumns>('mail_outbox').where({ id }).first();
  return row ? fromColumns(row) : undefined;
}

/** Mail that is done with (sent, given up on, or held) and older than `before`, in bounded batches. */
export async function deleteOldMail(db: Knex, before: Date, batch: number): Promise<number> {
  return deleteBatch(db, 'mail_outbox', 'id', (query) => query.whereIn('status', ['sent', 'failed', 'held']).andWhere('created_at', '<', before), batch);
}
