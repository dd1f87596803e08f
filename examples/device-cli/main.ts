import { DeviceSignInError, signInOnDevice } from './device-cli.js';
import { deviceCliOptionsFromEnv } from './env.js';

let options;
try {
  options = deviceCliOptionsFromEnv(process.env);
} catch (error) {
  console.error((error as Error).message);
  process.exit(1);
}

// Ctrl-C stops the polling at once rather than at the next interval.
const controller = new AbortController();
process.once('SIGINT', () => controller.abort());

try {
  await signInOnDevice(options, { output: process.stdout, signal: controller.signal });
} catch (error) {
  console.error(error instanceof DeviceSignInError ? error.message : `sign-in failed: ${(error as Error).message}`);
  process.exit(controller.signal.aborted ? 130 : 1);
}
