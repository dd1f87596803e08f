import { resourceServerOptionsFromEnv } from './env.js';
import { startResourceServer } from './server.js';

let options;
try {
  options = resourceServerOptionsFromEnv(process.env);
} catch (error) {
  console.error((error as Error).message);
  process.exit(1);
}

const api = await startResourceServer(options).catch((error: unknown) => {
  console.error(`cannot start the example API: ${(error as Error).message}`);
  process.exit(1);
});
console.log(`Example API on ${api.url}/api/hello (resource ${options.resource}, issuer ${options.issuer})`);

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => void api.close().then(() => process.exit(0)));
}
