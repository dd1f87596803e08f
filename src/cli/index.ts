import cluster from 'node:cluster';
import { configFromProcess } from '../config.js';
import { parse } from './args.js';
import { auditCommand } from './commands/audit.js';
import { clientsCommand } from './commands/clients.js';
import { eventsCommand } from './commands/events.js';
import { grantsCommand } from './commands/grants.js';
import { initialAccessTokensCommand } from './commands/initial-access-tokens.js';
import { keysCommand } from './commands/keys.js';
import { migrateCommand } from './commands/migrate.js';
import { resourcesCommand } from './commands/resources.js';
import { tokenExchangePoliciesCommand } from './commands/token-exchange-policies.js';
import { upstreamProvidersCommand } from './commands/upstream-providers.js';
import { usersCommand } from './commands/users.js';
import { webhooksCommand } from './commands/webhooks.js';
import { reportError, UsageError } from './output.js';
import type { Subcommand } from './subcommands.js';

const usage = `Usage: latchkey <command> [options]

Every command takes --json: one JSON document on stdout (lists: {"items": [...], "next_cursor": ...}).
Lists take --limit N and --cursor C (the next_cursor of the page before). Durations: 300, 5m, 1h, 30d.
On update a list flag replaces the whole list, and "" clears a setting (--logo-uri "").

  serve [--workers N]            run the server (migrates the database first); --workers runs
                                 N processes (1-64) on the one port, and needs DATABASE_URL
  migrate                        apply pending database migrations

  users create --email E [--name N] [--password P] [--email-verified] [--admin]
  users get|disable|enable|delete USER_ID
  users reset-factors USER_ID|EMAIL            (removes the authenticator app, passkeys and recovery codes)
  users list [--email E]
  users update USER_ID [--email E] [--name N] [--[no-]email-verified] [--[no-]admin]
  users set-password USER_ID [--password P]    (asks, hidden, when --password is not given)
  users import FILE                            (Auth0 bulk-import JSON or JSON lines; see the README)

  clients create --name N [--public] [settings]
  clients update CLIENT_ID [settings]
  clients get|delete CLIENT_ID
  clients list [--name N]
  clients rotate-secret CLIENT_ID [--grace 1h]  (the old secret works for the grace period)
    settings: [--redirect-uri U ...] [--post-logout-redirect-uri U ...]
              [--grant authorization_code,refresh_token | --grant client_credentials
               | --grant urn:ietf:params:oauth:grant-type:device_code,refresh_token]
              [--scope "openid profile ..."] [--resource URI ...] [--cors-origin O ...]
              [--token-endpoint-auth-method client_secret_basic|client_secret_post|private_key_jwt]
              [--[no-]first-party] [--[no-]admin-access] [--logo-uri U] [--client-uri U]
              [--policy-uri U] [--tos-uri U] [--access-token-ttl 5m] [--refresh-token-ttl 30d]
              [--jwks JSON|@file] [--jwks-uri U] [--backchannel-logout-uri U]
              [--[no-]backchannel-logout-session-required] [--[no-]require-par]
              [--[no-]dpop-bound] [--[no-]require-signed-request-object]
              [--refresh-reuse-grace 10s]  (a rotated refresh token works again that long)
              [--[no-]require-mfa]  (every sign-in for the client needs a second factor)

  resources create --identifier URI --scope "a b" [settings]
  resources update URI [--scope "a b"] [settings]
  resources get|delete URI
  resources list
    settings: [--format jwt|opaque] [--access-token-ttl 5m] [--introspection-client CLIENT_ID]

  token-exchange-policies create --client CLIENT_ID --subject-audience URI --target-audience URI --scope "a b"
                                 the client may exchange users' tokens for the subject API for tokens
                                 for the target API, with at most these scopes (RFC 8693)
  token-exchange-policies get|delete POLICY_ID
  token-exchange-policies list [--client CLIENT_ID]

  upstream-providers create --id ID [--preset oidc|google|microsoft|github] --client-id C
                            --client-secret S [settings] [--disable]
                                 "Continue with <name>" on the login page; register the printed
                                 redirect_uri (ISSUER/upstream/ID/callback) at the provider
  upstream-providers update ID [settings] [--enable|--disable]
  upstream-providers get|delete ID
  upstream-providers list
    settings: [--name N] [--issuer URL (oidc)] [--tenant T (microsoft)] [--scope "openid email"]
              [--email-domains corp.example,...] (home-realm discovery) [--client-id C]
              [--client-secret S] [--github-url URL] [--github-api-url URL] (GitHub Enterprise)

  grants list --user USER_ID
  grants revoke GRANT_ID

  initial-access-tokens create [--description D] [--expires-in 1d]
  initial-access-tokens list
  initial-access-tokens revoke ID

  audit list [--type T] [--actor ID] [--subject ID] [--from ISO] [--to ISO]

  keys list                                    (state and age of each signing key)
  keys rotate [--alg ES256|RS256 ...] [--delay 15m]
                                 new keys are published at once and sign after the delay
                                 (default LATCHKEY_KEY_ACTIVATION_DELAY)

  webhooks create --url URL --events TYPE[,TYPE...] [--description D] [--disabled]
                                 the signing secret is shown once
  webhooks update WEBHOOK_ID [--url URL] [--events TYPE[,TYPE...]] [--description D]
                  [--enable|--disable] [--rotate-secret [--grace 1h]]
                                 a new secret is shown once; the old one also signs for the grace period
  webhooks get|delete WEBHOOK_ID
  webhooks list
  webhooks deliveries WEBHOOK_ID               (newest first, each with its attempts)
  webhooks redeliver DELIVERY_ID               (the same event, with the same id, again)
    --events: event types from "latchkey events catalog", or "*" for every type (also later ones)

  events catalog                 every event type and its payload, as Markdown (docs/events.md)
  events schema TYPE             the JSON Schema of an event type's data

Configuration comes from environment variables (see the README).`;

const groups: Record<string, Subcommand> = {
  migrate: migrateCommand,
  users: usersCommand,
  clients: clientsCommand,
  resources: resourcesCommand,
  'token-exchange-policies': tokenExchangePoliciesCommand,
  'upstream-providers': upstreamProvidersCommand,
  grants: grantsCommand,
  'initial-access-tokens': initialAccessTokensCommand,
  audit: auditCommand,
  keys: keysCommand,
  webhooks: webhooksCommand,
  events: eventsCommand,
};

const MAX_WORKERS = 64;

function workerCount(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value) || Number(value) < 1 || Number(value) > MAX_WORKERS) {
    throw new UsageError(`--workers takes a whole number from 1 to ${MAX_WORKERS}`);
  }
  return Number(value);
}

async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  if (command === undefined || command === 'help' || command === '--help' || command === '-h') {
    process.stdout.write(`${usage}\n`);
    return;
  }
  const config = configFromProcess();
  if (command === 'serve') {
    const { values } = parse(rest, { workers: { type: 'string' } });
    const workers = workerCount(values.workers);
    // Only the server loads the provider and the HTTP stack; other commands stay light.
    const { serve } = await import('../main.js');
    return serve(config, workers === undefined ? {} : { workers });
  }
  if (!Object.hasOwn(groups, command)) throw new UsageError(`unknown command "${command}"`);
  return groups[command]!(config, rest);
}

main(process.argv.slice(2)).catch((error: unknown) => {
  process.exitCode = reportError(error);
  // A `serve --workers` worker that could not start: its channel to the primary would keep it alive.
  if (cluster.isWorker) process.exit();
});
