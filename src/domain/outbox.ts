import type { Deps } from '../deps.js';
import { LatchkeyError } from '../errors.js';
import { findMail, listMail, type MailRow } from '../store/mail-outbox.js';
import { isString, keysetPage, type Page, type PageRequest } from './pagination.js';

/** Newest first: mail sent, waiting to be sent, given up on, or held for want of an SMTP server. */
export async function listOutbox(deps: Deps, query: PageRequest = {}): Promise<Page<MailRow>> {
  return keysetPage(
    query,
    (value): value is string => isString(value) && /^\d{1,18}$/.test(value),
    (limit, before) => listMail(deps.db.knex, { limit, ...(before !== undefined ? { before } : {}) }),
    (mail) => mail.id,
  );
}

export async function getOutboxMail(deps: Deps, id: string): Promise<MailRow> {
  const mail = await findMail(deps.db.knex, id);
  if (!mail) throw new LatchkeyError('mail.not_found', `no email with id ${id}`);
  return mail;
}
