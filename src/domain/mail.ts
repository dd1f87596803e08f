import path from 'node:path';
import ejs from 'ejs';
import type { Knex } from 'knex';
import type { Deps } from '../deps.js';
import { viewsDir } from '../http/render.js';
import { insertMail } from '../store/mail-outbox.js';

export interface MailRequest {
  to: string;
  subject: string;
  /** views/emails/<template>.txt.ejs and .html.ejs */
  template: string;
  locals: Record<string, unknown>;
}

async function render(file: string, locals: Record<string, unknown>): Promise<string> {
  return ejs.renderFile(path.join(viewsDir, 'emails', file), locals, { cache: true });
}

/**
 * Puts an email in the outbox, in the caller's transaction: it is sent if and only if the
 * change that asked for it commits. With SMTP configured a server delivers it (jobs/mail-delivery.ts);
 * without, it is held for the admin console, and in development its links are logged so the
 * quick start works with no mail server.
 */
export async function queueMail(deps: Deps, db: Knex, request: MailRequest): Promise<void> {
  const locals = { ...request.locals, subject: request.subject, issuer: deps.config.http.issuer };
  const text = await render(`${request.template}.txt.ejs`, locals);
  const html = await render('layout.html.ejs', { ...locals, body: await render(`${request.template}.html.ejs`, locals) });
  const held = deps.config.mail.smtpUrl === undefined;
  await insertMail(db, { to: request.to, subject: request.subject, text, html, status: held ? 'held' : 'pending' });
  if (held && deps.config.env === 'development') {
    const links = text.match(/https?:\/\/\S+/g) ?? [];
    deps.log.info({ to: request.to, subject: request.subject, links }, 'email held in the outbox (no LATCHKEY_SMTP_URL); its links are logged because this is development');
  }
}
