import nodemailer from 'nodemailer';
import type { Deps } from '../deps.js';
import { claimDueMail, markMailSent, retryMailLater } from '../store/mail-outbox.js';
import { now } from '../util/clock.js';
import { every, type Job } from './every.js';

const BATCH = 20;
const LEASE_SECONDS = 120;
const MAX_ATTEMPTS = 10;

/** 30s, 1m, 2m, ... capped at an hour: ten attempts cover about a day of SMTP trouble. */
function backoffSeconds(attempts: number): number {
  return Math.min(3600, 30 * 2 ** (attempts - 1));
}

/** Sends pending outbox mail over SMTP. Without LATCHKEY_SMTP_URL there is nothing to send. */
export function startMailDelivery(deps: Deps): Job | undefined {
  const { smtpUrl, from } = deps.config.mail;
  if (!smtpUrl) return undefined;
  const transport = nodemailer.createTransport(smtpUrl);
  return every(deps, 'mail delivery', deps.config.cache.pollIntervalMs, async () => {
    for (const mail of await claimDueMail(deps.db.knex, now(), BATCH, LEASE_SECONDS)) {
      try {
        await transport.sendMail({ from, to: mail.to, subject: mail.subject, text: mail.text, html: mail.html });
        await markMailSent(deps.db.knex, mail.id, now());
      } catch (error) {
        const giveUp = mail.attempts >= MAX_ATTEMPTS;
        const message = error instanceof Error ? error.message : String(error);
        await retryMailLater(deps.db.knex, mail.id, new Date(now().getTime() + backoffSeconds(mail.attempts) * 1000), message, giveUp);
        deps.log.warn({ mailId: mail.id, attempts: mail.attempts, giveUp, error: message }, 'could not send an email');
      }
    }
  });
}
