import { startRelyingParty } from './app.js';
import { relyingPartyOptionsFromEnv } from './env.js';

let options;
try {
  options = relyingPartyOptionsFromEnv(process.env);
} catch (error) {
  console.error((error as Error).message);
  process.exit(1);
}

const app = await startRelyingParty(options).catch((error: unknown) => {
  console.error(`cannot start the example app: ${(error as Error).message}`);
  process.exit(1);
});
console.log(`Example app on ${app.url} (signs in with ${options.issuer}, calls ${options.apiUrl})`);

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => void app.close().then(() => process.exit(0)));
}
