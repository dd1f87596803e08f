import http from 'node:http';
import type { AddressInfo } from 'node:net';
import test from 'ava';
import { createUpstreamProvider } from '../../src/domain/upstream-providers.js';
import { findUserByEmail } from '../../src/store/users.js';
import { testActor } from '../helpers/actor.js';
import { authorizationRequest, go, isConsentPage, redeem, registerRp, submitConsent, type RelyingParty } from '../helpers/rp.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { continueWith, SitesBrowser } from './support.js';

// The GitHub preset against a local server that speaks GitHub's OAuth and user API: GitHub
// has no ID token, so the account's address comes from /user/emails, verified ones only.

interface GitHubUser {
  id: number;
  login: string;
  name: string | null;
  emails: Array<{ email: string; verified: boolean; primary: boolean }>;
}

interface FakeGitHub {
  url: string;
  /** Who "signs in" at the next authorize request. */
  next: GitHubUser | undefined;
  /** The token requests' form fields, as GitHub received them. */
  tokenRequests: URLSearchParams[];
  close(): Promise<void>;
}

const CLIENT_ID = 'Iv1.latchkey-test';
const CLIENT_SECRET = 'github-client-secret';

async function startFakeGitHub(): Promise<FakeGitHub> {
  const codes = new Map<string, GitHubUser>();
  const tokens = new Map<string, GitHubUser>();
  const fake: FakeGitHub = { url: '', next: undefined, tokenRequests: [], close: async () => undefined };
  const server = http.createServer((request, response) => {
    const url = new URL(request.url!, fake.url);
    const send = (status: number, body: unknown) => {
      response.writeHead(status, { 'content-type': 'application/json' });
      response.end(JSON.stringify(body));
    };
    if (request.method === 'GET' && url.pathname === '/login/oauth/authorize') {
      const redirect = new URL(url.searchParams.get('redirect_uri')!);
      const code = `code-${Math.random().toString(36).slice(2)}`;
      codes.set(code, fake.next!);
      redirect.searchParams.set('code', code);
      redirect.searchParams.set('state', url.searchParams.get('state')!);
      response.writeHead(302, { location: redirect.href });
      response.end();
      return;
    }
    if (request.method === 'POST' && url.pathname === '/login/oauth/access_token') {
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => {
        const form = new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
        fake.tokenRequests.push(form);
        const user = codes.get(form.get('code') ?? '');
        codes.delete(form.get('code') ?? '');
        // Like GitHub: an error is a 200 with an error field; JSON only when asked for.
        const answer = form.get('client_id') === CLIENT_ID && form.get('client_secret') === CLIENT_SECRET && user
          ? { access_token: `gho_${Math.random().toString(36).slice(2)}`, token_type: 'bearer', scope: 'read:user,user:email' }
          : { error: 'bad_verification_code', error_description: 'The code passed is incorrect or expired.' };
        if ('access_token' in answer) tokens.set(answer.access_token, user!);
        if (request.headers.accept?.includes('application/json')) return send(200, answer);
        response.writeHead(200, { 'content-type': 'application/x-www-form-urlencoded' });
        response.end(new URLSearchParams(answer as Record<string, string>).toString());
      });
      return;
    }
    const user = tokens.get((request.headers.authorization ?? '').replace(/^Bearer /, ''));
    if (!user) return send(401, { message: 'Requires authentication' });
    if (url.pathname === '/api/user') return send(200, { id: user.id, login: user.login, name: user.name });
    if (url.pathname === '/api/user/emails') return send(200, user.emails.map((entry) => ({ ...entry, visibility: null })));
    send(404, { message: 'Not Found' });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  fake.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  fake.close = () => new Promise<void>((resolve) => server.close(() => resolve()));
  return fake;
}

let server: TestServer;
let github: FakeGitHub;
let rp: RelyingParty;

test.before(async () => {
  [server, github] = await Promise.all([startTestServer({ LATCHKEY_SIGNUP: 'true' }), startFakeGitHub()]);
  await createUpstreamProvider(server.deps, testActor, {
    id: 'github',
    kind: 'github',
    clientId: CLIENT_ID,
    clientSecret: CLIENT_SECRET,
    // GitHub Enterprise addresses: how the preset reaches the fake.
    githubUrl: github.url,
    githubApiUrl: `${github.url}/api`,
  });
  rp = await registerRp(server);
});

test.after.always(async () => {
  await github?.close();
  await server?.dispose();
});

test.serial('the GitHub preset signs in with the verified primary address', async (t) => {
  const stamp = Date.now();
  github.next = {
    id: 4242,
    login: 'octo',
    name: 'Octo Cat',
    emails: [
      { email: `unverified-${stamp}@example.com`, verified: false, primary: false },
      { email: `old-${stamp}@example.com`, verified: true, primary: false },
      { email: `octo-${stamp}@example.com`, verified: true, primary: true },
    ],
  };
  const browser = new SitesBrowser();
  const request = await authorizationRequest(rp);
  const login = await go(browser, rp, request.url);
  t.true(login.html.includes('Continue with <span translate="no">GitHub</span>'));
  let step = await continueWith(browser, rp, login, 'github');
  if (isConsentPage(step)) step = await submitConsent(browser, rp, step);
  t.true(step.url.href.startsWith(rp.redirectUri), step.html);
  const tokens = await redeem(rp, step.url, request);

  const user = await findUserByEmail(server.deps.db.knex, `octo-${stamp}@example.com`);
  t.truthy(user);
  t.is(tokens.claims()!.sub, user!.id);
  t.is(user!.name, 'Octo Cat');
  t.true(user!.emailVerified);
  t.is(user!.createdVia, 'upstream');
  const identity = await server.deps.db.knex('upstream_identities').where({ provider_id: 'github', subject: '4242' }).first();
  t.is(identity.user_id, user!.id);
  const sent = github.tokenRequests.at(-1)!;
  t.is(sent.get('client_secret'), CLIENT_SECRET, 'the client secret goes in the form, as GitHub reads it');
  t.truthy(sent.get('code_verifier'), 'PKCE');
  t.is(sent.get('redirect_uri'), `${server.issuer}/upstream/github/callback`);
});

test.serial('an account with only unverified addresses gets a clear page and nothing is created', async (t) => {
  const stamp = Date.now();
  const users = Number((await server.deps.db.knex('users').count('* as n').first())!.n);
  github.next = { id: 777, login: 'sneaky', name: null, emails: [{ email: `victim-${stamp}@example.com`, verified: false, primary: true }] };
  const browser = new SitesBrowser();
  const login = await go(browser, rp, (await authorizationRequest(rp)).url);
  const step = await continueWith(browser, rp, login, 'github');
  t.is(step.response.status, 400);
  t.true(step.html.includes('has not verified your email address'));
  t.truthy(/href="\/interaction\/[^"]+"/.exec(step.html), 'a way back to the login page');
  t.is(Number((await server.deps.db.knex('users').count('* as n').first())!.n), users);
  t.is(await server.deps.db.knex('upstream_identities').where({ provider_id: 'github', subject: '777' }).first(), undefined);
  const audit = await server.deps.db.knex('audit_events').where({ type: 'upstream.sign_in_failed' }).orderBy('id', 'desc').first();
  t.is(audit.details.reason, 'email_unverified');
});
