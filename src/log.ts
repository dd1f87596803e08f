import { pino, type Logger } from 'pino';
import type { Config } from './config.js';
import { currentRequest } from './request-context.js';

export type { Logger };

// Anything that could let a reader of the logs act as a user or a client, at the top of a log
// line or one level down (request bodies, parameters, errors' fields).
const credentials = [
  'password',
  'newPassword',
  'currentPassword',
  'client_secret',
  'clientSecret',
  'secret',
  'code',
  'code_verifier',
  'codeVerifier',
  'token',
  'access_token',
  'accessToken',
  'refresh_token',
  'refreshToken',
  'id_token',
  'idToken',
  'id_token_hint',
  'client_assertion',
  'registration_access_token',
  'initial_access_token',
  '_csrf',
  'cookie',
  'authorization',
  'smtpUrl',
];
const redact = [
  ...credentials.flatMap((name) => [name, `*.${name}`]),
  '*.headers.authorization',
  '*.headers.cookie',
  '*.headers["set-cookie"]',
];

export function createLogger(config: Pick<Config, 'log'>, destination?: NodeJS.WritableStream): Logger {
  const options = {
    level: config.log.level,
    redact: { paths: redact, censor: '[redacted]' },
    base: null,
    // Every line written while a request is handled names it, whichever module writes it.
    mixin: () => {
      const request = currentRequest();
      return request ? { requestId: request.id } : {};
    },
  };
  if (destination) return pino(options, destination as pino.DestinationStream);
  if (config.log.pretty) {
    return pino({
      ...options,
      transport: { target: 'pino-pretty', options: { colorize: true, ignore: 'pid,hostname', translateTime: 'HH:MM:ss' } },
    });
  }
  return pino(options);
}
