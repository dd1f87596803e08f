import { webhookReceiverOptionsFromEnv } from './env.js';
import { startWebhookReceiver } from './receiver.js';

let options;
try {
  options = webhookReceiverOptionsFromEnv(process.env);
} catch (error) {
  console.error((error as Error).message);
  process.exit(1);
}

const receiver = await startWebhookReceiver({ ...options, log: (line) => console.log(line) }).catch((error: unknown) => {
  console.error(`cannot start the webhook receiver: ${(error as Error).message}`);
  process.exit(1);
});
console.log(`Webhook receiver on ${receiver.url} (mailing list in ${receiver.mailingListFile})`);

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => void receiver.close().then(() => process.exit(0)));
}
