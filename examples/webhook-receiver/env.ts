import path from 'node:path';
import { Webhook } from 'standardwebhooks';
import type { WebhookReceiverOptions } from './receiver.js';

const DEFAULT_PORT = 4500;
const DEFAULT_FILE = 'mailing-list.json';

/**
 * The options from environment variables. Throws one error, on one line, naming every variable
 * that is missing or wrong.
 */
export function webhookReceiverOptionsFromEnv(env: NodeJS.ProcessEnv): Omit<WebhookReceiverOptions, 'log'> {
  const problems: string[] = [];

  const secret = env.WEBHOOK_SECRET?.trim() ?? '';
  if (!secret) {
    problems.push('WEBHOOK_SECRET is not set: give the signing secret (whsec_...) that `latchkey webhooks create` printed');
  } else if (!isSigningSecret(secret)) {
    problems.push('WEBHOOK_SECRET is not a webhook signing secret: it is whsec_ followed by base64, as `latchkey webhooks create` printed it');
  }

  const portText = env.PORT?.trim() || String(DEFAULT_PORT);
  const port = Number(portText);
  if (!Number.isInteger(port) || port < 0 || port > 65535) problems.push(`PORT is not a port number (0-65535): ${portText}`);

  const mailingListFile = path.resolve(env.MAILING_LIST_FILE?.trim() || DEFAULT_FILE);

  if (problems.length > 0) throw new Error(`cannot start the webhook receiver: ${problems.join('; ')} (see examples/webhook-receiver/README.md)`);
  return { secret, port, mailingListFile };
}

function isSigningSecret(value: string): boolean {
  if (!/^whsec_[A-Za-z0-9+/]+={0,2}$/.test(value)) return false;
  try {
    new Webhook(value);
    return true;
  } catch {
    return false;
  }
}
