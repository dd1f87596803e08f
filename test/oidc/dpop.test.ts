import { randomUUID } from 'node:crypto';
import test from 'ava';
import { calculateJwkThumbprint, exportJWK, generateKeyPair, SignJWT, type CryptoKey } from 'jose';
import * as oidc from 'openid-client';
import { Browser } from '../helpers/browser.js';
import { advanceClock, resetClock } from '../helpers/clock.js';
import { authorizationRequest, createTestUser, go, isConsentPage, isLoginPage, registerRp, submitConsent, submitLogin, type RelyingParty, type TestUser } from '../helpers/rp.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

let server: TestServer;
let user: TestUser;

test.before(async () => {
  server = await startTestServer();
  user = await createTestUser(server);
});

test.after.always(async () => {
  resetClock();
  await server?.dispose();
});

/**
 * RFC 9449 §8: a client whose nonce has gone stale (they rotate) gets use_dpop_nonce with a new
 * one, which the DPoP handle keeps, and tries once more, as real clients do.
 */
async function withFreshNonce<T>(request: () => Promise<T>): Promise<T> {
  try {
    return await request();
  } catch (error) {
    if ((error as { error?: string }).error !== 'use_dpop_nonce') throw error;
    return request();
  }
}

/** A code flow whose token request carries a DPoP proof from `keys`. */
async function signInWithDPoP(rp: RelyingParty, keys: oidc.CryptoKeyPair, params: Record<string, string> = {}) {
  const dpop = oidc.getDPoPHandle(rp.config, keys);
  const request = await authorizationRequest(rp, { scope: 'openid offline_access', prompt: 'consent', ...params });
  const browser = new Browser();
  let step = await go(browser, rp, request.url);
  if (isLoginPage(step)) step = await submitLogin(browser, rp, step, user);
  if (isConsentPage(step)) step = await submitConsent(browser, rp, step);
  const tokens = await withFreshNonce(() =>
    oidc.authorizationCodeGrant(rp.config, step.url, { pkceCodeVerifier: request.codeVerifier, expectedState: request.state, expectedNonce: request.nonce, idTokenExpected: true }, undefined, { DPoP: dpop }),
  );
  return { tokens, dpop };
}

/** A DPoP proof written by hand, to get each part wrong on purpose (RFC 9449 §4.2). */
async function proof(keys: { privateKey: CryptoKey; publicKey: CryptoKey }, claims: { htm: string; htu: string; nonce?: string; ath?: string }): Promise<string> {
  return new SignJWT({ ...claims, jti: randomUUID() })
    .setProtectedHeader({ alg: 'ES256', typ: 'dpop+jwt', jwk: await exportJWK(keys.publicKey) })
    .setIssuedAt()
    .sign(keys.privateKey);
}

async function nonceFrom(url: string, init: RequestInit): Promise<string> {
  const response = await fetch(url, init);
  await response.body?.cancel();
  return response.headers.get('dpop-nonce')!;
}

test('a DPoP-bound code flow: the access token is bound to the key, userinfo wants the proof, and a nonce is always required', async (t) => {
  const rp = await registerRp(server);
  const keys = await oidc.randomDPoPKeyPair('ES256');
  const { tokens, dpop } = await signInWithDPoP(rp, keys);
  t.is(tokens.token_type.toLowerCase(), 'dpop');

  const introspected = await oidc.tokenIntrospection(rp.config, tokens.access_token);
  t.is((introspected.cnf as { jkt?: string } | undefined)?.jkt, await calculateJwkThumbprint(await exportJWK(keys.publicKey)));

  const info = await withFreshNonce(() => oidc.fetchUserInfo(rp.config, tokens.access_token, tokens.claims()!.sub, { DPoP: dpop }));
  t.is(info.sub, user.id);
  // As a plain bearer token it is refused.
  const bearer = await fetch(`${server.issuer}/me`, { headers: { authorization: `Bearer ${tokens.access_token}` } });
  t.is(bearer.status, 401);
  await bearer.body?.cancel();

  // Refreshing with the same key gives a new access token bound to it.
  const refreshed = await withFreshNonce(() => oidc.refreshTokenGrant(rp.config, tokens.refresh_token!, undefined, { DPoP: dpop }));
  t.is(refreshed.token_type.toLowerCase(), 'dpop');
});

test('a proof from another key, for another method, or with a stale nonce is refused', async (t) => {
  const rp = await registerRp(server);
  const keys = await oidc.randomDPoPKeyPair('ES256');
  const { tokens } = await signInWithDPoP(rp, keys);
  const userinfo = `${server.issuer}/me`;
  const ath = Buffer.from(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(tokens.access_token))).toString('base64url');
  const nonce = await nonceFrom(userinfo, { headers: { authorization: `DPoP ${tokens.access_token}`, dpop: await proof(keys, { htm: 'GET', htu: userinfo, ath }) } });
  t.truthy(nonce, 'the resource answers use_dpop_nonce with a nonce');

  const call = async (dpopProof: string) => {
    const response = await fetch(userinfo, { headers: { authorization: `DPoP ${tokens.access_token}`, dpop: dpopProof } });
    const challenge = response.headers.get('www-authenticate') ?? '';
    await response.body?.cancel();
    return { status: response.status, challenge };
  };
  t.is((await call(await proof(keys, { htm: 'GET', htu: userinfo, ath, nonce }))).status, 200, 'the right proof works');

  const other = await generateKeyPair('ES256');
  const wrongKey = await call(await proof(other, { htm: 'GET', htu: userinfo, ath, nonce }));
  t.is(wrongKey.status, 401);
  t.regex(wrongKey.challenge, /error="invalid_token"/);

  const wrongMethod = await call(await proof(keys, { htm: 'POST', htu: userinfo, ath, nonce }));
  t.is(wrongMethod.status, 401);
  t.regex(wrongMethod.challenge, /error="invalid_dpop_proof"/);

  // Nonces are good for a short while; one from long ago is not.
  advanceClock(3600);
  try {
    const stale = await call(await proof(keys, { htm: 'GET', htu: userinfo, ath, nonce }));
    t.is(stale.status, 401);
    t.regex(stale.challenge, /error="use_dpop_nonce"/);
  } finally {
    resetClock();
  }
});
