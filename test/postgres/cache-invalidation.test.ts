import { randomBytes } from 'node:crypto';
import test from 'ava';
import { createClient, deleteClient } from '../../src/domain/clients.js';
import { createResource } from '../../src/domain/resources.js';
import { createDeps, type Deps } from '../../src/deps.js';
import { postWithBasic, registerRp, type RelyingParty } from '../helpers/rp.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { testActor } from '../helpers/actor.js';

// Another process on the same database, as the CLI is next to a running server. Only
// PostgreSQL allows that: the embedded engine's data dir is held by the server.
let server: TestServer;
let other: Deps;

test.before(async () => {
  server = await startTestServer();
  other = await createDeps(server.config);
});

test.after.always(async () => {
  await other?.db.close();
  await server?.dispose();
});

interface TokenAnswer {
  status: number;
  error: string | undefined;
  accessToken: string | undefined;
}

async function clientCredentials(client: { clientId: string; clientSecret: string | undefined }, fields: Record<string, string> = {}): Promise<TokenAnswer> {
  const response = await postWithBasic(`${server.issuer}/token`, client, { grant_type: 'client_credentials', ...fields });
  const body = (await response.json()) as { error?: string; access_token?: string };
  return { status: response.status, error: body.error, accessToken: body.access_token };
}

/** Asks until `done` says the answer is the expected one; the change feed polls every 100ms in tests. */
async function eventually(ask: () => Promise<TokenAnswer>, done: (answer: TokenAnswer) => boolean): Promise<TokenAnswer> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const answer = await ask();
    if (done(answer) || Date.now() > deadline) return answer;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

function machineClient(): Promise<RelyingParty> {
  return registerRp(server, { grantTypes: ['client_credentials'], redirectUris: [], postLogoutRedirectUris: [] });
}

test('a client deleted by another process stops getting tokens from the running server', async (t) => {
  const client = await machineClient();
  // The server has now read the client and keeps it in its cache.
  const before = await clientCredentials(client);
  t.is(before.status, 200);
  t.truthy(before.accessToken);

  await deleteClient(other, testActor, client.clientId);

  const after = await eventually(
    () => clientCredentials(client),
    (answer) => answer.status !== 200,
  );
  t.is(after.status, 401);
  t.is(after.error, 'invalid_client');
});

test('a resource registered by another process becomes usable on the running server', async (t) => {
  const api = `https://api-${randomBytes(4).toString('hex')}.example/`;
  const asker = await machineClient();
  // The server looks the resource up, finds nothing and remembers that.
  const before = await clientCredentials(asker, { resource: api });
  t.is(before.status, 400);
  t.is(before.error, 'invalid_target');

  await createResource(other, testActor, { identifier: api, scopes: ['reports:read'] });
  const { client, clientSecret } = await createClient(other, testActor, {
    name: 'Reporting job',
    grantTypes: ['client_credentials'],
    resources: [api],
  });
  const caller = { clientId: client.clientId, clientSecret };

  const after = await eventually(
    () => clientCredentials(caller, { resource: api, scope: 'reports:read' }),
    (answer) => answer.status === 200,
  );
  t.is(after.status, 200, `still ${after.error}`);
  t.is(after.accessToken?.split('.').length, 3);
});
