import { pino, type Logger } from 'pino';
import type { Config } from './config.js';

export type { Logger };

// Anything that could let a reader of the logs act as a user or a client.
const redact = [
  'password',
  '*.password',
  'client_secret',
  '*.client_secret',
  '*.clientSecret',
  'req.headers.authorization',
  'req.headers.cookie',
  'res.headers["set-cookie"]',
  '*.code',
  '*.code_verifier',
  '*.refresh_token',
  '*.access_token',
  '*.id_token',
];

export function createLogger(config: Pick<Config, 'log'>, destination?: NodeJS.WritableStream): Logger {
  const options = { level: config.log.level, redact: { paths: redact, censor: '[redacted]' }, base: null };
  if (destination) return pino(options, destination as pino.DestinationStream);
  if (config.log.pretty) {
    return pino({
      ...options,
      transport: { target: 'pino-pretty', options: { colorize: true, ignore: 'pid,hostname', translateTime: 'HH:MM:ss' } },
    });
  }
  return pino(options);
}
