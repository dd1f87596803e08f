import { isIP } from 'node:net';
import path from 'node:path';
import { z } from 'zod';
import { parseDuration } from './util/duration.js';

// The only module that reads the environment. Everything else receives a Config.

const boolean = z
  .enum(['true', 'false', '1', '0', 'yes', 'no'], { message: 'accepts true or false' })
  .transform((value) => value === 'true' || value === '1' || value === 'yes');

/** Token lifetimes: whole seconds, as the provider counts them. */
const lifetime = z.string().transform((value, ctx) => {
  const seconds = parseDuration(value);
  if (seconds === undefined || seconds < 1 || !Number.isInteger(seconds)) {
    ctx.addIssue({ code: 'custom', message: 'accepts a whole number of seconds, minutes, hours or days, such as 30s, 15m, 1h or 14d' });
    return z.NEVER;
  }
  return seconds;
});

/** Background intervals may be shorter than a second (tests poll every 100ms). */
const interval = z.string().transform((value, ctx) => {
  const seconds = parseDuration(value);
  if (seconds === undefined || seconds < 0.01) {
    ctx.addIssue({ code: 'custom', message: 'accepts a duration such as 500ms, 1s or 5m' });
    return z.NEVER;
  }
  return seconds;
});

/** A window that may be off: whole seconds from 0 to `max`, such as 0, 10s or 2m. */
const window = (max: number, example: string) =>
  z.string().transform((value, ctx) => {
    const seconds = parseDuration(value);
    if (seconds === undefined || seconds < 0 || seconds > max || !Number.isInteger(seconds)) {
      ctx.addIssue({ code: 'custom', message: `accepts a whole number of seconds or minutes from 0 (off) up to ${example}, such as 0, 10s or 1m` });
      return z.NEVER;
    }
    return seconds;
  });

const integer = (min: number, max: number) =>
  z
    .string()
    .regex(/^\d+$/, { message: `accepts a whole number from ${min} to ${max}` })
    .transform(Number)
    .pipe(z.number().int().min(min, { message: `accepts a whole number from ${min} to ${max}` }).max(max, { message: `accepts a whole number from ${min} to ${max}` }));

const url = (what: string, protocols: string[]) =>
  z.string().refine(
    (value) => {
      try {
        return protocols.includes(new URL(value).protocol);
      } catch {
        return false;
      }
    },
    { message: `accepts ${what}` },
  );

/** One network: `10.1.0.0/16`, `::1/128`, or a single address. */
function parseNetwork(value: string): string | undefined {
  const [address = '', prefix, extra] = value.trim().split('/');
  if (extra !== undefined) return undefined;
  const version = isIP(address);
  if (version === 0) return undefined;
  const max = version === 4 ? 32 : 128;
  const bits = prefix === undefined ? max : /^\d{1,3}$/.test(prefix) ? Number(prefix) : NaN;
  if (!(bits >= 0 && bits <= max)) return undefined;
  return `${address}/${bits}`;
}

/** A comma-separated list of networks, or `none`. */
const networks = z.string().transform((value, ctx) => {
  if (value.trim() === 'none') return [];
  const parsed = value.split(',').map(parseNetwork);
  if (parsed.some((network) => network === undefined)) {
    ctx.addIssue({ code: 'custom', message: 'accepts none or comma-separated networks such as 10.1.0.0/16,::1/128' });
    return z.NEVER;
  }
  return parsed as string[];
});

/** What development allows by default: receivers on this machine. */
const LOOPBACK_NETWORKS = ['127.0.0.0/8', '::1/128'];

const envSchema = z.object({
  PORT: integer(1, 65535).default(3000),
  // Latchkey serves the provider at the root of its origin, so the issuer has no path.
  ISSUER: url('an http(s) URL such as https://id.example.com', ['http:', 'https:'])
    .refine((value) => ['', '/'].includes(new URL(value).pathname) && !new URL(value).search && !new URL(value).hash, {
      message: 'accepts an origin without a path, query or fragment, such as https://id.example.com',
    })
    .optional(),
  DATABASE_URL: url('a postgres:// URL', ['postgres:', 'postgresql:']).optional(),
  LATCHKEY_DATA_DIR: z.string().min(1, { message: 'accepts a directory path' }).default('./data'),
  LATCHKEY_LOG_LEVEL: z
    .enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], {
      message: 'accepts fatal, error, warn, info, debug, trace or silent',
    })
    .default('info'),
  LATCHKEY_TRUST_PROXY: boolean.default(false),
  LATCHKEY_ACCESS_TOKEN_TTL: lifetime.default(3600),
  LATCHKEY_ID_TOKEN_TTL: lifetime.default(3600),
  LATCHKEY_REFRESH_TOKEN_TTL: lifetime.default(14 * 86400),
  LATCHKEY_REFRESH_REUSE_GRACE: window(300, '5m').default(0),
  LATCHKEY_ARGON2_MEMORY_KIB: integer(1024, 4 * 1024 * 1024).default(19456),
  LATCHKEY_ARGON2_TIME: integer(1, 100).default(2),
  LATCHKEY_ARGON2_PARALLELISM: integer(1, 64).default(1),
  LATCHKEY_ENV: z
    .enum(['development', 'production', 'test'], { message: 'accepts development, production or test' })
    .optional(),
  LATCHKEY_CACHE_POLL_INTERVAL: interval.default(1),
  LATCHKEY_CLEANUP_INTERVAL: interval.default(300),
  LATCHKEY_SIGNUP: boolean.optional(),
  LATCHKEY_SMTP_URL: url('an smtp:// or smtps:// URL such as smtps://user:pass@smtp.example.com', ['smtp:', 'smtps:']).optional(),
  LATCHKEY_MAIL_FROM: z.string().min(3, { message: 'accepts an address such as "Example ID" <id@example.com>' }).optional(),
  LATCHKEY_PASSWORD_MIN_LENGTH: integer(8, 64).default(8),
  LATCHKEY_EMAIL_LINK_TTL: lifetime.default(86400),
  LATCHKEY_RESET_LINK_TTL: lifetime.default(1800),
  LATCHKEY_SESSION_IDLE_TTL: lifetime.default(3 * 86400),
  LATCHKEY_SESSION_TTL: lifetime.default(14 * 86400),
  LATCHKEY_THROTTLE_FAILURES: integer(1, 1000).default(5),
  LATCHKEY_THROTTLE_IP_FAILURES: integer(1, 100000).default(50),
  LATCHKEY_THROTTLE_WINDOW: lifetime.default(900),
  LATCHKEY_THROTTLE_MAX_DELAY: lifetime.default(900),
  LATCHKEY_AUDIT_RETENTION: lifetime.default(90 * 86400),
  LATCHKEY_MAIL_RETENTION: lifetime.default(7 * 86400),
  LATCHKEY_SECRET: z.string().min(32, { message: 'accepts at least 32 characters; generate one with: openssl rand -base64 32' }).optional(),
  LATCHKEY_SECRET_FILE: z.string().min(1, { message: 'accepts a file path' }).optional(),
  LATCHKEY_KEY_ACTIVATION_DELAY: z
    .string()
    .transform((value, ctx) => {
      const seconds = parseDuration(value);
      if (seconds === undefined || seconds < 0 || seconds > 365 * 86400 || !Number.isInteger(seconds)) {
        ctx.addIssue({ code: 'custom', message: 'accepts a whole number of seconds, minutes, hours or days up to 365d, such as 0s, 15m or 1h' });
        return z.NEVER;
      }
      return seconds;
    })
    .default(900),
  LATCHKEY_DIRECT_DATABASE_URL: url('a postgres:// URL', ['postgres:', 'postgresql:']).optional(),
  LATCHKEY_DB_POOL_SIZE: integer(1, 1000).default(10),
  LATCHKEY_DB_TIMEOUT: interval.default(5),
  LATCHKEY_METRICS_PORT: integer(1, 65535).optional(),
  LATCHKEY_METRICS_TOKEN: z.string().min(16, { message: 'accepts at least 16 characters' }).optional(),
  LATCHKEY_SHUTDOWN_TIMEOUT: interval.default(10),
  LATCHKEY_THEME_NAME: z.string().trim().min(1).max(60, { message: 'accepts a product name of up to 60 characters' }).default('Latchkey'),
  // The Content-Security-Policy lets pages show images from https origins only.
  LATCHKEY_THEME_LOGO_URL: url('an https URL of an image, such as https://example.com/logo.svg', ['https:']).optional(),
  LATCHKEY_THEME_PRIMARY_COLOR: z
    .string()
    .regex(/^#(?:[0-9a-f]{3}|[0-9a-f]{6})$/i, { message: 'accepts a hex color such as #3b4fd8' })
    .default('#3b4fd8'),
  LATCHKEY_WEBHOOK_TIMEOUT: interval.default(10),
  LATCHKEY_WEBHOOK_POLL_INTERVAL: interval.default(1),
  LATCHKEY_WEBHOOK_ALLOWED_NETWORKS: networks.optional(),
  LATCHKEY_WEBHOOK_RETENTION: lifetime.default(30 * 86400),
});

export type Environment = 'development' | 'production' | 'test';

export interface Config {
  readonly env: Environment;
  readonly http: { readonly port: number; readonly issuer: string; readonly issuerIsDefault: boolean; readonly trustProxy: boolean };
  readonly db: {
    readonly url: string | undefined;
    /** For what needs one session throughout (session advisory locks): PostgreSQL itself, not a transaction pooler. */
    readonly directUrl: string | undefined;
    readonly dataDir: string;
    readonly poolSize: number;
    /** Milliseconds a query or a wait for a connection may take before the request gets a 503. */
    readonly timeoutMs: number;
  };
  /** Where the master key that seals private keys and secrets at rest comes from. */
  readonly secret: { readonly value: string | undefined; readonly file: string | undefined };
  readonly keys: {
    /** Seconds a new signing key is published before it signs. */
    readonly activationDelay: number;
  };
  readonly ops: {
    /** Serve /healthz, /readyz and /metrics on this port instead of the main one. */
    readonly metricsPort: number | undefined;
    /** Bearer token /metrics requires, when set. */
    readonly metricsToken: string | undefined;
    /** Milliseconds SIGTERM waits for in-flight requests. */
    readonly shutdownTimeoutMs: number;
  };
  readonly log: { readonly level: string; readonly pretty: boolean };
  readonly tokens: {
    /** Seconds. */
    readonly accessTtl: number;
    readonly idTtl: number;
    readonly refreshTtl: number;
    /** Seconds a just-rotated refresh token may be used again by its client, unless the client sets its own; 0 is off. */
    readonly refreshReuseGrace: number;
  };
  readonly argon2: { readonly memoryKib: number; readonly time: number; readonly parallelism: number };
  readonly cache: { readonly pollIntervalMs: number };
  readonly cleanup: { readonly intervalMs: number };
  readonly accounts: {
    readonly signup: boolean;
    readonly passwordMinLength: number;
    /** Seconds an email verification link stays good. */
    readonly emailLinkTtl: number;
    readonly resetLinkTtl: number;
  };
  readonly mail: { readonly smtpUrl: string | undefined; readonly from: string };
  readonly sessions: {
    /** Seconds without use after which a sign-in session ends. */
    readonly idleTtl: number;
    /** Seconds after sign-in at which a session ends, used or not. */
    readonly absoluteTtl: number;
  };
  readonly throttle: {
    /** Failures per email (or client) allowed in a window before each further one is delayed. */
    readonly failures: number;
    readonly ipFailures: number;
    /** Seconds a run of failures is remembered. */
    readonly window: number;
    /** Seconds: the longest wait a run of failures can impose. */
    readonly maxDelay: number;
  };
  readonly retention: {
    readonly auditEvents: number;
    readonly sentMail: number;
    /** Seconds webhook events are kept after they happened, with their deliveries and attempts; never while a delivery is pending. */
    readonly webhookEvents: number;
  };
  readonly webhooks: {
    /** Milliseconds one delivery attempt may take. */
    readonly timeoutMs: number;
    /** Milliseconds between each node's looks for deliveries that are due. */
    readonly pollIntervalMs: number;
    /** Networks (CIDR) webhooks may reach although they are loopback, private or reserved. */
    readonly allowedNetworks: readonly string[];
  };
  /** What every page shows: the product's name and logo, and its color. */
  readonly theme: { readonly name: string; readonly logoUrl: string | undefined; readonly primaryColor: string };
}

export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** Settings whose value is a secret: an error names them but never shows what was set. */
const SECRET_SETTINGS = new Set(['LATCHKEY_SECRET', 'LATCHKEY_METRICS_TOKEN']);
/** Settings that are URLs and may carry a password. */
const URL_SETTINGS = new Set(['DATABASE_URL', 'LATCHKEY_DIRECT_DATABASE_URL', 'LATCHKEY_SMTP_URL']);

/** `NAME="value"` for an error line, without letting a secret reach the logs it is printed to. */
function shownSetting(variable: string, value: string): string {
  if (SECRET_SETTINGS.has(variable)) return `${variable} (value not shown)`;
  if (URL_SETTINGS.has(variable)) {
    try {
      const url = new URL(value);
      if (url.password) url.password = '***';
      return `${variable}=${JSON.stringify(url.toString())}`;
    } catch {
      return `${variable} (value not shown)`;
    }
  }
  return `${variable}=${JSON.stringify(value)}`;
}

/** Pure: tests pass their own object. Throws ConfigError with one line naming the bad variable. */
export function loadConfig(env: Record<string, string | undefined>): Config {
  const present = Object.fromEntries(Object.entries(env).filter(([, value]) => value !== undefined && value !== ''));
  const parsed = envSchema.safeParse(present);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const variable = issue?.path.join('.') ?? 'environment';
    throw new ConfigError(`invalid ${shownSetting(variable, present[variable] ?? '')}: ${issue?.message ?? 'invalid value'}`);
  }
  const e = parsed.data;
  if (e.LATCHKEY_SECRET !== undefined && e.LATCHKEY_SECRET_FILE !== undefined) {
    throw new ConfigError('invalid LATCHKEY_SECRET_FILE: set LATCHKEY_SECRET or LATCHKEY_SECRET_FILE, not both');
  }
  const environment: Environment = e.LATCHKEY_ENV ?? (e.DATABASE_URL ? 'production' : 'development');
  const issuer = (e.ISSUER ?? `http://localhost:${e.PORT}`).replace(/\/+$/, '');
  return deepFreeze({
    env: environment,
    http: { port: e.PORT, issuer, issuerIsDefault: e.ISSUER === undefined, trustProxy: e.LATCHKEY_TRUST_PROXY },
    db: {
      url: e.DATABASE_URL,
      directUrl: e.LATCHKEY_DIRECT_DATABASE_URL ?? e.DATABASE_URL,
      dataDir: path.resolve(e.LATCHKEY_DATA_DIR),
      poolSize: e.LATCHKEY_DB_POOL_SIZE,
      timeoutMs: Math.round(e.LATCHKEY_DB_TIMEOUT * 1000),
    },
    secret: { value: e.LATCHKEY_SECRET, file: e.LATCHKEY_SECRET_FILE === undefined ? undefined : path.resolve(e.LATCHKEY_SECRET_FILE) },
    keys: { activationDelay: e.LATCHKEY_KEY_ACTIVATION_DELAY },
    ops: {
      metricsPort: e.LATCHKEY_METRICS_PORT,
      metricsToken: e.LATCHKEY_METRICS_TOKEN,
      shutdownTimeoutMs: Math.round(e.LATCHKEY_SHUTDOWN_TIMEOUT * 1000),
    },
    log: { level: e.LATCHKEY_LOG_LEVEL, pretty: environment === 'development' },
    tokens: {
      accessTtl: e.LATCHKEY_ACCESS_TOKEN_TTL,
      idTtl: e.LATCHKEY_ID_TOKEN_TTL,
      refreshTtl: e.LATCHKEY_REFRESH_TOKEN_TTL,
      refreshReuseGrace: e.LATCHKEY_REFRESH_REUSE_GRACE,
    },
    argon2: {
      memoryKib: e.LATCHKEY_ARGON2_MEMORY_KIB,
      time: e.LATCHKEY_ARGON2_TIME,
      parallelism: e.LATCHKEY_ARGON2_PARALLELISM,
    },
    cache: { pollIntervalMs: e.LATCHKEY_CACHE_POLL_INTERVAL * 1000 },
    cleanup: { intervalMs: e.LATCHKEY_CLEANUP_INTERVAL * 1000 },
    accounts: {
      signup: e.LATCHKEY_SIGNUP ?? environment === 'development',
      passwordMinLength: e.LATCHKEY_PASSWORD_MIN_LENGTH,
      emailLinkTtl: e.LATCHKEY_EMAIL_LINK_TTL,
      resetLinkTtl: e.LATCHKEY_RESET_LINK_TTL,
    },
    mail: { smtpUrl: e.LATCHKEY_SMTP_URL, from: e.LATCHKEY_MAIL_FROM ?? `Latchkey <no-reply@${new URL(issuer).hostname}>` },
    sessions: { idleTtl: e.LATCHKEY_SESSION_IDLE_TTL, absoluteTtl: e.LATCHKEY_SESSION_TTL },
    throttle: {
      failures: e.LATCHKEY_THROTTLE_FAILURES,
      ipFailures: e.LATCHKEY_THROTTLE_IP_FAILURES,
      window: e.LATCHKEY_THROTTLE_WINDOW,
      maxDelay: e.LATCHKEY_THROTTLE_MAX_DELAY,
    },
    retention: { auditEvents: e.LATCHKEY_AUDIT_RETENTION, sentMail: e.LATCHKEY_MAIL_RETENTION, webhookEvents: e.LATCHKEY_WEBHOOK_RETENTION },
    webhooks: {
      timeoutMs: Math.round(e.LATCHKEY_WEBHOOK_TIMEOUT * 1000),
      pollIntervalMs: e.LATCHKEY_WEBHOOK_POLL_INTERVAL * 1000,
      allowedNetworks: e.LATCHKEY_WEBHOOK_ALLOWED_NETWORKS ?? (environment === 'production' ? [] : LOOPBACK_NETWORKS),
    },
    theme: { name: e.LATCHKEY_THEME_NAME, logoUrl: e.LATCHKEY_THEME_LOGO_URL, primaryColor: e.LATCHKEY_THEME_PRIMARY_COLOR.toLowerCase() },
  });
}

/**
 * What serving in production needs beyond valid values: a public, fixed https issuer
 * (OpenID Connect Discovery §3). The CLI's data commands do not need it, so only `serve` checks.
 */
export function assertServable(config: Config): void {
  if (config.db.url && !config.secret.value && !config.secret.file) {
    throw new ConfigError(
      'missing LATCHKEY_SECRET: with DATABASE_URL every node must share one master key (LATCHKEY_SECRET or LATCHKEY_SECRET_FILE); generate one with: openssl rand -base64 32',
    );
  }
  if (config.env !== 'production') return;
  if (config.http.issuerIsDefault) {
    throw new ConfigError('missing ISSUER: production needs the public https URL of this server (or set LATCHKEY_ENV=development)');
  }
  if (!config.http.issuer.startsWith('https://')) {
    throw new ConfigError(`invalid ISSUER=${JSON.stringify(config.http.issuer)}: production accepts only an https URL (or set LATCHKEY_ENV=development)`);
  }
}

/** The process's own configuration; entry points call this once. */
export function configFromProcess(overrides: Record<string, string> = {}): Config {
  return loadConfig({ ...process.env, ...overrides });
}

function deepFreeze<T extends object>(value: T): T {
  for (const child of Object.values(value)) {
    if (child && typeof child === 'object') deepFreeze(child);
  }
  return Object.freeze(value);
}
