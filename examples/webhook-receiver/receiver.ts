import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Webhook, WebhookVerificationError } from 'standardwebhooks';
import { MailingList, MalformedEvent, type LatchkeyEvent, type Outcome } from './mailing-list.js';

/** Where Latchkey posts: the URL registered with `latchkey webhooks create --url`. */
export const WEBHOOK_PATH = '/webhooks';

/** Latchkey's payloads are a few hundred bytes; anything much bigger is not from it. */
const BODY_LIMIT = 256 * 1024;

export interface WebhookReceiverOptions {
  /** The webhook's signing secret, `whsec_...`, as `latchkey webhooks create` printed it. */
  secret: string;
  /** 0 picks a free port. */
  port: number;
  /** The JSON file the mailing list is kept in; created if missing. */
  mailingListFile: string;
  /** A line for each request (main.ts prints them); none by default. */
  log?: (line: string) => void;
}

export interface RunningWebhookReceiver {
  /** The URL to register with Latchkey, e.g. http://127.0.0.1:4500/webhooks. */
  url: string;
  /** The mailing list file's absolute path. */
  mailingListFile: string;
  close(): Promise<void>;
}

class TooLarge extends Error {}

function readBody(request: http.IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    request.on('data', (chunk: Buffer) => {
      size += chunk.length;
      // Past the limit the rest is read and dropped, so the 413 can be sent.
      if (size > BODY_LIMIT) reject(new TooLarge());
      else chunks.push(chunk);
    });
    request.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    request.on('error', reject);
  });
}

function header(request: http.IncomingMessage, name: string): string {
  const value = request.headers[name];
  return Array.isArray(value) ? (value[0] ?? '') : (value ?? '');
}

function isEvent(value: unknown): value is LatchkeyEvent {
  const event = value as Partial<LatchkeyEvent> | null;
  return (
    typeof event === 'object' &&
    event !== null &&
    typeof event.id === 'string' &&
    typeof event.type === 'string' &&
    typeof event.timestamp === 'string' &&
    typeof event.data === 'object' &&
    event.data !== null
  );
}

function describe(outcome: Outcome): string {
  switch (outcome.kind) {
    case 'duplicate':
      return 'already processed: nothing to do';
    case 'ignored':
      return `nothing to do: ${outcome.reason}`;
    default:
      return `${outcome.kind} ${outcome.email}`;
  }
}

function answer(response: http.ServerResponse, status: number, message?: string, headers: Record<string, string> = {}): void {
  if (message === undefined) {
    response.writeHead(status, headers).end();
  } else {
    response.writeHead(status, { ...headers, 'content-type': 'text/plain; charset=utf-8' }).end(`${message}\n`);
  }
}

/**
 * The example receiver: it verifies each request's Standard Webhooks signature before it reads
 * anything in it, applies each event once, and answers 2xx only once the event is in the file.
 */
export async function startWebhookReceiver(options: WebhookReceiverOptions): Promise<RunningWebhookReceiver> {
  const webhook = new Webhook(options.secret);
  const list = await MailingList.open(options.mailingListFile);
  const log = options.log ?? (() => undefined);

  async function handle(request: http.IncomingMessage, response: http.ServerResponse): Promise<void> {
    const { pathname } = new URL(request.url ?? '/', 'http://receiver');
    if (pathname !== WEBHOOK_PATH) return answer(response, 404, `not found: Latchkey's webhooks go to POST ${WEBHOOK_PATH}`);
    if (request.method !== 'POST') return answer(response, 405, `method not allowed: POST ${WEBHOOK_PATH}`, { allow: 'POST' });

    let body: string;
    try {
      body = await readBody(request);
    } catch (error) {
      if (error instanceof TooLarge) return answer(response, 413, 'payload too large', { connection: 'close' });
      throw error;
    }

    // The signature covers webhook-id, webhook-timestamp and the body exactly as received, so
    // it is checked on the raw text, before parsing. The library also refuses a timestamp more
    // than five minutes from now: a request recorded and replayed later is refused.
    const headers = {
      'webhook-id': header(request, 'webhook-id'),
      'webhook-timestamp': header(request, 'webhook-timestamp'),
      'webhook-signature': header(request, 'webhook-signature'),
    };
    let payload: unknown;
    try {
      payload = webhook.verify(body, headers);
    } catch (error) {
      if (error instanceof WebhookVerificationError) {
        log(`refused ${headers['webhook-id'] || '(no webhook-id)'}: ${error.message}`);
        return answer(response, 401, `webhook verification failed: ${error.message}`);
      }
      // Signed with our secret, but not JSON.
      return answer(response, 400, 'the body is not JSON');
    }
    if (!isEvent(payload)) return answer(response, 400, 'the body is not a Latchkey event');

    let outcome: Outcome;
    try {
      // De-duplicated on webhook-id: the same on every delivery of an event, retries and
      // redeliveries alike (and covered by the signature).
      outcome = await list.apply(headers['webhook-id'], payload);
    } catch (error) {
      if (error instanceof MalformedEvent) return answer(response, 400, error.message);
      throw error;
    }
    log(`${payload.type} ${headers['webhook-id']}: ${describe(outcome)}`);
    answer(response, 204);
  }

  const server = http.createServer((request, response) => {
    handle(request, response).catch((error: unknown) => {
      // Not acknowledged: Latchkey tries again later.
      log(`could not process ${header(request, 'webhook-id') || 'a request'}: ${(error as Error).message}`);
      if (!response.headersSent) answer(response, 500, 'the event could not be processed; it will be retried');
      else response.destroy();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}${WEBHOOK_PATH}`,
    mailingListFile: list.file,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        server.closeAllConnections();
      }),
  };
}
