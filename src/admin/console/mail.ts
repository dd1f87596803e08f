import type { Router } from '@koa/router';
import { getOutboxMail, listOutbox } from '../../domain/outbox.js';
import { optional } from '../../http/forms.js';
import type { ConsoleKit } from './kit.js';

/** A run of a mail's text: plain, or an http(s) address to show as a link. */
export type TextPart = { text: string } | { link: string };

// Sentence punctuation after an address belongs to the sentence, not the address.
const ADDRESS = /https?:\/\/[^\s<>"]*[^\s<>".,;:!?)\]'’]/g;

/** Splits a text body so the view can make its addresses clickable; the view escapes every part. */
export function linkParts(text: string): TextPart[] {
  const parts: TextPart[] = [];
  let at = 0;
  for (const match of text.matchAll(ADDRESS)) {
    if (match.index > at) parts.push({ text: text.slice(at, match.index) });
    parts.push({ link: match[0] });
    at = match.index + match[0].length;
  }
  if (at < text.length) parts.push({ text: text.slice(at) });
  return parts;
}

/**
 * The outbox: with no SMTP server every email is held here, so an operator can read a
 * verification or reset link and hand it to the person it is for.
 */
export function mailRoutes(router: Router, kit: ConsoleKit): void {
  const { deps, guard } = kit;
  const smtpConfigured = deps.config.mail.smtpUrl !== undefined;

  router.get('/mail', ...guard, async (ctx) => {
    const page = await listOutbox(deps, { cursor: optional(ctx.query, 'cursor'), limit: 50 });
    await kit.page(ctx, 'mail', 'list', 'admin.mail.title', { page, smtpConfigured });
  });

  router.get('/mail/:id', ...guard, async (ctx) => {
    const mail = await getOutboxMail(deps, ctx.params.id!);
    await kit.page(ctx, 'mail', 'show', { key: 'admin.named', params: { name: mail.subject } }, { mail, parts: linkParts(mail.text) });
  });
}
