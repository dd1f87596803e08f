import { randomBytes } from 'node:crypto';
import pg from 'pg';
import type { Deps } from '../src/deps.js';
import type { Actor } from '../src/domain/audit.js';
import { createClient } from '../src/domain/clients.js';
import { createResource } from '../src/domain/resources.js';
import { createUser } from '../src/domain/users.js';
import type { ClientRow } from '../src/store/clients.js';
import type { ResourceRow } from '../src/store/resources.js';
import type { UserRow } from '../src/store/users.js';
import { Browser, findForm } from '../test/helpers/browser.js';
import type { RequestSpec } from './load.js';
import { FORWARDED, JWT_API, REDIRECT_URI, viaProxy, type Credentials } from './workloads.js';

export const benchActor: Actor = { type: 'system', id: 'bench', ip: null };

export interface BenchDatabase {
  url: string;
  drop(): Promise<void>;
}

/** A new database on the server `adminUrl` points at, dropped when the run ends. */
export async function createBenchDatabase(adminUrl: string): Promise<BenchDatabase> {
  const name = `latchkey_bench_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    async drop() {
      const client = new pg.Client({ connectionString: adminUrl });
      await client.connect();
      try {
        await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await client.end();
      }
    },
  };
}

export async function postgresVersion(url: string): Promise<string> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const { rows } = await client.query<{ server_version: string }>('SHOW server_version');
    return rows[0]?.server_version ?? 'unknown';
  } finally {
    await client.end();
  }
}

export interface Fixture {
  user: UserRow;
  password: string;
  /** A service: client_credentials, opaque tokens by default and JWTs for the API. */
  service: Credentials & { row: ClientRow };
  /** A web app: authorization code with PKCE and refresh tokens. */
  web: Credentials & { row: ClientRow };
  resources: ResourceRow[];
}

/** What every workload uses, made through the domain functions the CLI and admin API call. */
export async function seed(deps: Deps): Promise<Fixture> {
  const password = `bench-${randomBytes(9).toString('base64url')}`;
  const user = await createUser(deps, benchActor, { email: 'bench@example.com', password, name: 'Bench User', emailVerified: true });
  const api = await createResource(deps, benchActor, { identifier: JWT_API, scopes: ['read'], accessTokenFormat: 'jwt' });
  const service = await createClient(deps, benchActor, { name: 'Bench service', grantTypes: ['client_credentials'], resources: [JWT_API], scope: 'read' });
  const web = await createClient(deps, benchActor, {
    name: 'Bench web app',
    redirectUris: [REDIRECT_URI],
    grantTypes: ['authorization_code', 'refresh_token'],
    scope: 'openid profile email offline_access',
  });
  return {
    user,
    password,
    service: { clientId: service.client.clientId, clientSecret: service.clientSecret!, row: service.client },
    web: { clientId: web.client.clientId, clientSecret: web.clientSecret!, row: web.client },
    resources: [api],
  };
}

/** A throwaway service client, for the change-propagation measurement. */
export async function extraService(deps: Deps, name: string): Promise<Credentials> {
  const created = await createClient(deps, benchActor, { name, grantTypes: ['client_credentials'] });
  return { clientId: created.client.clientId, clientSecret: created.clientSecret! };
}

/**
 * Login form posts ready to send: for each, an authorization request was made and its login
 * page fetched (interaction cookie, CSRF field), as a browser would have before the user types.
 */
export async function prepareLogins(issuer: string, client: Credentials, user: { email: string; password: string }, count: number): Promise<RequestSpec[]> {
  const prepareOne = async (): Promise<RequestSpec> => {
    const browser = new Browser(viaProxy);
    const authorize = new URL('/auth', issuer);
    authorize.search = new URLSearchParams({
      client_id: client.clientId,
      response_type: 'code',
      redirect_uri: REDIRECT_URI,
      scope: 'openid profile email',
      state: randomBytes(8).toString('hex'),
      nonce: randomBytes(8).toString('hex'),
      code_challenge: randomBytes(32).toString('base64url'),
      code_challenge_method: 'S256',
    }).toString();
    const { url, response } = await browser.follow(authorize);
    const form = findForm(await response.text(), '/login');
    return {
      method: 'POST',
      path: new URL(form.action, url).pathname,
      headers: { ...FORWARDED, cookie: browser.cookieHeader(), 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ ...form.fields, email: user.email, password: user.password }).toString(),
    };
  };
  const prepared: RequestSpec[] = [];
  while (prepared.length < count) {
    prepared.push(...(await Promise.all(Array.from({ length: Math.min(10, count - prepared.length) }, prepareOne))));
  }
  return prepared;
}
