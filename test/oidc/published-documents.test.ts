import { request } from 'node:http';
import test from 'ava';
import { startTestServer, type TestServer } from '../helpers/server.js';

// JWKS and discovery are answered from memory after the provider's first answer
// (src/oidc/published-documents.ts); these pin that what comes from memory is what the provider says.

let server: TestServer;

test.before(async () => {
  server = await startTestServer();
});

test.after.always(async () => {
  await server?.dispose();
});

const DOCUMENTS = ['/jwks', '/.well-known/openid-configuration', '/.well-known/oauth-authorization-server'];

test('every later answer has the first one’s body and headers, with its own request id and CSP nonce', async (t) => {
  for (const path of DOCUMENTS) {
    const answers = await Promise.all(
      [0, 1, 2].map(async () => {
        const response = await fetch(`${server.issuer}${path}`);
        return { status: response.status, headers: response.headers, body: await response.text() };
      }),
    );
    const [first, ...later] = answers;
    for (const answer of later) {
      t.is(answer.status, 200, path);
      t.is(answer.body, first!.body, path);
      t.is(answer.headers.get('content-type'), first!.headers.get('content-type'), path);
      t.is(answer.headers.get('access-control-allow-origin'), '*', path);
      t.is(answer.headers.get('x-frame-options'), 'DENY', path);
      t.not(answer.headers.get('x-request-id'), first!.headers.get('x-request-id'), path);
      t.not(answer.headers.get('content-security-policy'), first!.headers.get('content-security-policy'), path);
    }
    t.regex(first!.headers.get('content-type') ?? '', path === '/jwks' ? /^application\/jwk-set\+json/ : /^application\/json/);
  }
});

/** A GET with a Host header of our choosing (fetch does not let one be set). */
function getWithHost(path: string, host: string): Promise<string> {
  const { port } = new URL(server.issuer);
  return new Promise((resolve, reject) => {
    const sent = request({ host: '127.0.0.1', port, path, headers: { host } }, (response) => {
      let body = '';
      response.setEncoding('utf8').on('data', (chunk: string) => (body += chunk));
      response.on('end', () => resolve(body));
    });
    sent.on('error', reject).end();
  });
}

test('an answer for another host is not kept, and does not change what the issuer’s host is told', async (t) => {
  const path = '/.well-known/openid-configuration';
  const own = await (await fetch(`${server.issuer}${path}`)).text();
  // The provider writes endpoint URLs from the request's host: this one is for elsewhere.
  const elsewhere = await getWithHost(path, 'elsewhere.example');
  t.not(elsewhere, own);
  t.is(await (await fetch(`${server.issuer}${path}`)).text(), own);
  t.is(JSON.parse(own).token_endpoint, `${server.issuer}/token`);
});

test('a conditional request and a HEAD go to the provider and are answered as it answers them', async (t) => {
  const head = await fetch(`${server.issuer}/jwks`, { method: 'HEAD' });
  t.is(head.status, 200);
  t.is(await head.text(), '');
  const conditional = await fetch(`${server.issuer}/jwks`, { headers: { 'if-none-match': '"anything"' } });
  t.is(conditional.status, 200);
  t.truthy(JSON.parse(await conditional.text()).keys);
});
