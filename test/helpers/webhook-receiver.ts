import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Webhook, WebhookVerificationError } from 'standardwebhooks';

export interface ReceivedDelivery {
  id: string;
  timestamp: string;
  signature: string;
  body: string;
  /** Verified with the standardwebhooks library against the receiver's secret. */
  verified: boolean;
  /** The parsed payload, when verified. */
  payload?: { id: string; type: string; timestamp: string; data: Record<string, unknown> };
}

/**
 * A webhook receiver as a customer would write one: it verifies each request with the
 * standardwebhooks library and answers 204, or answers what `respond` says (a failing receiver).
 */
export interface TestReceiver {
  readonly url: string;
  readonly deliveries: ReceivedDelivery[];
  /** Set once the webhook's secret is known (it is shown when the webhook is created). */
  secret: string | undefined;
  /** Status to answer with for the next request; 204 by default. Return 'hang' to never answer. */
  respond: (delivery: ReceivedDelivery) => number | 'hang';
  /** Resolves once `count` verified deliveries have arrived. */
  waitFor(count: number, timeoutMs?: number): Promise<ReceivedDelivery[]>;
  close(): Promise<void>;
}

export async function startReceiver(host = '127.0.0.1'): Promise<TestReceiver> {
  const waiting: Array<() => void> = [];
  const hanging: http.ServerResponse[] = [];
  const receiver: TestReceiver = {
    url: '',
    deliveries: [],
    secret: undefined,
    respond: () => 204,
    waitFor(count, timeoutMs = 15_000) {
      return new Promise((resolve, reject) => {
        const verified = () => receiver.deliveries.filter((delivery) => delivery.verified);
        const timer = setTimeout(() => reject(new Error(`only ${verified().length} of ${count} deliveries arrived`)), timeoutMs);
        const check = () => {
          if (verified().length < count) return false;
          clearTimeout(timer);
          resolve(verified());
          return true;
        };
        const wait = () => {
          if (!check()) waiting.push(wait);
        };
        wait();
      });
    },
    async close() {
      for (const response of hanging) response.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  const server = http.createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const headers = {
        'webhook-id': String(request.headers['webhook-id'] ?? ''),
        'webhook-timestamp': String(request.headers['webhook-timestamp'] ?? ''),
        'webhook-signature': String(request.headers['webhook-signature'] ?? ''),
      };
      const delivery: ReceivedDelivery = {
        id: headers['webhook-id'],
        timestamp: headers['webhook-timestamp'],
        signature: headers['webhook-signature'],
        body,
        verified: false,
      };
      try {
        delivery.payload = new Webhook(receiver.secret ?? '').verify(body, headers) as NonNullable<ReceivedDelivery['payload']>;
        delivery.verified = true;
      } catch (error) {
        if (!(error instanceof WebhookVerificationError) && !(error instanceof Error)) throw error;
      }
      receiver.deliveries.push(delivery);
      const answer = delivery.verified ? receiver.respond(delivery) : 401;
      if (answer === 'hang') {
        hanging.push(response);
      } else {
        response.writeHead(answer).end();
      }
      for (const wake of waiting.splice(0)) wake();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  const { port } = server.address() as AddressInfo;
  Object.assign(receiver, { url: `http://${host === '::1' ? '[::1]' : host}:${port}/webhooks` });
  return receiver;
}
