import test from 'ava';
import * as oidc from 'openid-client';
import { adminResourceIdentifier } from '../../src/domain/admin-access.js';
import { listAuditEvents } from '../../src/domain/audit.js';
import { createInitialAccessToken, revokeInitialAccessToken } from '../../src/domain/initial-access-tokens.js';
import { findClient } from '../../src/store/clients.js';
import { sha256 } from '../../src/util/digest.js';
import { testActor } from '../helpers/actor.js';
import { Browser } from '../helpers/browser.js';
import { createTestUser, discover, postWithBasic, redeem, signIn, type RelyingParty } from '../helpers/rp.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

let server: TestServer;
let registrationEndpoint: string;
let tokenEndpoint: string;

test.before(async () => {
  server = await startTestServer();
  registrationEndpoint = `${server.issuer}/reg`;
  tokenEndpoint = `${server.issuer}/token`;
});

test.after.always(async () => {
  await server?.dispose();
});

type Json = Record<string, unknown>;

interface Answer {
  status: number;
  body: Json;
}

const REDIRECT_URI = 'https://dcr-rp.example/callback';
const MACHINE = { grant_types: ['client_credentials'], response_types: [], redirect_uris: [] };
const WEB_APP = { redirect_uris: [REDIRECT_URI], grant_types: ['authorization_code', 'refresh_token'], scope: 'openid profile email offline_access' };

async function initialAccessToken(): Promise<{ token: string; id: string }> {
  const { token, initialAccessToken } = await createInitialAccessToken(server.deps, testActor, { description: 'registration tests' });
  return { token, id: initialAccessToken.id };
}

async function call(method: string, url: string, bearer: string | undefined, body?: Json): Promise<Answer> {
  const response = await fetch(url, {
    method,
    headers: {
      ...(bearer ? { authorization: `Bearer ${bearer}` } : {}),
      ...(body ? { 'content-type': 'application/json' } : {}),
    },
    ...(body ? { body: JSON.stringify(body) } : {}),
  });
  const text = await response.text();
  return { status: response.status, body: text ? (JSON.parse(text) as Json) : {} };
}

interface Registered {
  clientId: string;
  clientSecret: string;
  registrationAccessToken: string;
  registrationClientUri: string;
  response: Json;
}

async function register(metadata: Json = MACHINE): Promise<Registered> {
  const { token } = await initialAccessToken();
  const answer = await call('POST', registrationEndpoint, token, { client_name: 'Self-registered', ...metadata });
  if (answer.status !== 201) throw new Error(`registration answered ${answer.status}: ${JSON.stringify(answer.body)}`);
  return {
    clientId: answer.body.client_id as string,
    clientSecret: answer.body.client_secret as string,
    registrationAccessToken: answer.body.registration_access_token as string,
    registrationClientUri: answer.body.registration_client_uri as string,
    response: answer.body,
  };
}

function clientCredentials(client: { clientId: string; clientSecret: string | undefined }, fields: Record<string, string> = {}) {
  return postWithBasic(tokenEndpoint, client, { grant_type: 'client_credentials', ...fields });
}

test('with an initial access token a client registers (openid-client), sees its secret once and gets client_credentials tokens', async (t) => {
  const { token, id } = await initialAccessToken();
  const config = await oidc.dynamicClientRegistration(
    new URL(server.issuer),
    { client_name: 'Worker', grant_types: ['client_credentials'], response_types: [], redirect_uris: [] },
    undefined,
    { initialAccessToken: token, execute: [oidc.allowInsecureRequests] },
  );
  const metadata = config.clientMetadata();
  const clientId = config.clientMetadata().client_id;
  const clientSecret = metadata.client_secret as string;
  t.is(typeof clientSecret, 'string');
  t.true(clientSecret.length >= 43);

  const row = await findClient(server.deps.db.knex, clientId);
  t.true(row?.registeredDynamically);
  t.false(row?.firstParty);
  t.false(row?.adminAccess);
  t.is(row?.clientSecretHash, sha256(clientSecret));
  t.false(JSON.stringify(row).includes(clientSecret));

  const tokens = await oidc.clientCredentialsGrant(config);
  t.is(typeof tokens.access_token, 'string');

  const events = await listAuditEvents(server.deps, { type: 'client.created', subjectId: clientId });
  t.is(events.items.length, 1);
  t.is(events.items[0]?.actorType, 'initial_access_token');
  t.is(events.items[0]?.actorId, id);
});

test('a self-registered client signs a user in with the code flow, consent page included', async (t) => {
  const registered = await register(WEB_APP);
  const rp: RelyingParty = {
    config: await discover(server, registered.clientId, registered.clientSecret),
    clientId: registered.clientId,
    clientSecret: registered.clientSecret,
    redirectUri: REDIRECT_URI,
  };
  const user = await createTestUser(server);
  const { callback, request } = await signIn(new Browser(), rp, user);
  const tokens = await redeem(rp, callback, request);
  t.is(tokens.claims()?.sub, user.id);
  t.is(tokens.claims()?.aud, registered.clientId);
});

test('registration without an initial access token, or with an unknown one, is refused with 401 invalid_token', async (t) => {
  for (const bearer of [undefined, 'not-a-real-token']) {
    const answer = await call('POST', registrationEndpoint, bearer, MACHINE);
    t.is(answer.status, 401, String(bearer));
    t.is(answer.body.error, 'invalid_token', String(bearer));
  }
});

test('a revoked or expired initial access token no longer registers clients', async (t) => {
  const revoked = await initialAccessToken();
  t.is((await call('POST', registrationEndpoint, revoked.token, MACHINE)).status, 201);
  await revokeInitialAccessToken(server.deps, testActor, revoked.id);
  const afterRevocation = await call('POST', registrationEndpoint, revoked.token, MACHINE);
  t.is(afterRevocation.status, 401);
  t.is(afterRevocation.body.error, 'invalid_token');

  const expired = await initialAccessToken();
  await server.deps.db.knex('initial_access_tokens').where({ id: expired.id }).update({ expires_at: new Date(Date.now() - 1000) });
  const afterExpiry = await call('POST', registrationEndpoint, expired.token, MACHINE);
  t.is(afterExpiry.status, 401);
  t.is(afterExpiry.body.error, 'invalid_token');
});

const violations: Array<[string, Json, string]> = [
  ['an http redirect URI that is not on this machine', { ...WEB_APP, redirect_uris: ['http://rp.example/callback'] }, 'invalid_redirect_uri'],
  ['a wildcard redirect URI', { ...WEB_APP, redirect_uris: ['https://*.rp.example/callback'] }, 'invalid_redirect_uri'],
  ['a custom-scheme redirect URI', { ...WEB_APP, redirect_uris: ['com.example.app:/callback'] }, 'invalid_redirect_uri'],
  ['an http post-logout redirect URI not on this machine', { ...WEB_APP, post_logout_redirect_uris: ['http://rp.example/'] }, 'invalid_client_metadata'],
  ['the password grant', { ...WEB_APP, grant_types: ['authorization_code', 'password'] }, 'invalid_client_metadata'],
  ['the implicit grant', { ...WEB_APP, grant_types: ['implicit'], response_types: ['id_token'] }, 'invalid_client_metadata'],
  ['first_party', { ...WEB_APP, first_party: true }, 'invalid_client_metadata'],
  ['admin_access', { ...MACHINE, admin_access: true }, 'invalid_client_metadata'],
  ['the admin scope', { ...MACHINE, scope: 'latchkey:admin' }, 'invalid_client_metadata'],
  ['its own access token lifetime', { ...MACHINE, access_token_ttl: 60 }, 'invalid_client_metadata'],
  ['its own refresh token lifetime', { ...WEB_APP, refresh_token_ttl: 60 }, 'invalid_client_metadata'],
  ['its own refresh reuse grace', { ...WEB_APP, refresh_token_reuse_grace: 60 }, 'invalid_client_metadata'],
  ['client_credentials without authentication', { ...MACHINE, token_endpoint_auth_method: 'none' }, 'invalid_client_metadata'],
];

test('registrations asking for what a self-registered client may not have are refused with a reason', async (t) => {
  const { token } = await initialAccessToken();
  for (const [what, metadata, error] of violations) {
    const answer = await call('POST', registrationEndpoint, token, { client_name: 'Refused registration', ...metadata });
    t.is(answer.status, 400, what);
    t.is(answer.body.error, error, what);
    t.is(typeof answer.body.error_description, 'string', what);
  }
  t.is(await server.deps.db.knex('clients').where({ name: 'Refused registration' }).first(), undefined);
});

test('the same rules apply when a client updates its registration (RFC 7592 PUT)', async (t) => {
  const registered = await register(WEB_APP);
  let accessToken = registered.registrationAccessToken;
  for (const [what, metadata, error] of violations) {
    const answer = await call('PUT', registered.registrationClientUri, accessToken, { client_id: registered.clientId, ...metadata });
    t.is(answer.status, 400, what);
    t.is(answer.body.error, error, what);
  }
  const row = await findClient(server.deps.db.knex, registered.clientId);
  t.false(row?.firstParty);
  t.false(row?.adminAccess);
  t.deepEqual(row?.metadata.redirect_uris, [REDIRECT_URI]);
  t.is(row?.metadata.access_token_ttl, undefined);

  // A valid update still goes through afterwards.
  const ok = await call('PUT', registered.registrationClientUri, accessToken, { client_id: registered.clientId, ...WEB_APP, client_name: 'Renamed' });
  t.is(ok.status, 200);
  accessToken = ok.body.registration_access_token as string;
  t.is(typeof accessToken, 'string');
});

test('reading a registration (RFC 7592 GET) returns neither the secret nor its hash', async (t) => {
  const registered = await register();
  const answer = await call('GET', registered.registrationClientUri, registered.registrationAccessToken);
  t.is(answer.status, 200);
  t.is(answer.body.client_id, registered.clientId);
  t.false('client_secret' in answer.body);
  const text = JSON.stringify(answer.body);
  t.false(text.includes(registered.clientSecret));
  t.false(text.includes(sha256(registered.clientSecret)));
});

test('an update that repeats the real secret succeeds, keeps that secret working and returns no secret', async (t) => {
  const registered = await register();
  const answer = await call('PUT', registered.registrationClientUri, registered.registrationAccessToken, {
    ...MACHINE,
    client_id: registered.clientId,
    client_secret: registered.clientSecret,
    client_name: 'Renamed worker',
  });
  t.is(answer.status, 200, JSON.stringify(answer.body));
  t.is(answer.body.client_name, 'Renamed worker');
  t.false('client_secret' in answer.body);
  t.false(JSON.stringify(answer.body).includes(sha256(registered.clientSecret)));
  // Rotated (rotateRegistrationAccessToken): the old registration access token is gone.
  t.not(answer.body.registration_access_token, registered.registrationAccessToken);
  t.is((await call('GET', registered.registrationClientUri, registered.registrationAccessToken)).status, 401);

  const row = await findClient(server.deps.db.knex, registered.clientId);
  t.is(row?.name, 'Renamed worker');
  t.is(row?.clientSecretHash, sha256(registered.clientSecret), 'the stored digest was not hashed again');
  t.is((await clientCredentials(registered)).status, 200);

  const events = await listAuditEvents(server.deps, { type: 'client.updated', subjectId: registered.clientId });
  t.is(events.items[0]?.actorType, 'client');
  t.is(events.items[0]?.actorId, registered.clientId);
});

test('an update that presents a wrong secret, or the stored hash as the secret, is refused', async (t) => {
  const registered = await register();
  for (const secret of [`${registered.clientSecret}x`, sha256(registered.clientSecret), '', '!']) {
    const answer = await call('PUT', registered.registrationClientUri, registered.registrationAccessToken, {
      ...MACHINE,
      client_id: registered.clientId,
      client_secret: secret,
      client_name: 'Hijacked',
    });
    t.is(answer.status, 400, secret);
    t.is(answer.body.error, 'invalid_request', secret);
  }
  t.is((await findClient(server.deps.db.knex, registered.clientId))?.name, 'Self-registered');
});

test('an update with a body that is not JSON is answered with invalid_request, not a server error', async (t) => {
  const registered = await register();
  const response = await fetch(registered.registrationClientUri, {
    method: 'PUT',
    headers: { authorization: `Bearer ${registered.registrationAccessToken}`, 'content-type': 'application/json' },
    body: '{"client_secret": ',
  });
  t.is(response.status, 400);
  t.is(((await response.json()) as Json).error, 'invalid_request');
});

test('deleting a registration (RFC 7592 DELETE) removes the client and its tokens', async (t) => {
  const registered = await register();
  const issued = await clientCredentials(registered);
  t.is(issued.status, 200);
  const { access_token: accessToken } = (await issued.json()) as { access_token: string };

  const answer = await fetch(registered.registrationClientUri, {
    method: 'DELETE',
    headers: { authorization: `Bearer ${registered.registrationAccessToken}` },
  });
  t.is(answer.status, 204);
  t.is(await findClient(server.deps.db.knex, registered.clientId), undefined);
  t.is(await server.deps.db.knex('oidc_payloads').where({ client_id: registered.clientId }).first(), undefined);
  t.is((await server.deps.db.knex('oidc_payloads').where({ id: sha256(accessToken) }).first()) ?? undefined, undefined);

  const afterwards = await clientCredentials(registered);
  t.is(afterwards.status, 401);
  t.is(((await afterwards.json()) as Json).error, 'invalid_client');
  t.is((await call('GET', registered.registrationClientUri, registered.registrationAccessToken)).status, 401);

  const events = await listAuditEvents(server.deps, { type: 'client.deleted', subjectId: registered.clientId });
  t.is(events.items[0]?.actorType, 'client');
});

test('a self-registered client never gets a token for the admin API', async (t) => {
  const registered = await register();
  const response = await clientCredentials(registered, { resource: adminResourceIdentifier(server.config), scope: 'latchkey:admin' });
  t.is(response.status, 400);
  const body = (await response.json()) as Json;
  t.true(body.error === 'invalid_target' || body.error === 'invalid_scope', String(body.error));
  t.is(body.access_token, undefined);
});

test('discovery advertises the registration endpoint', async (t) => {
  const metadata = (await (await fetch(`${server.issuer}/.well-known/openid-configuration`)).json()) as Json;
  t.is(metadata.registration_endpoint, registrationEndpoint);
});
