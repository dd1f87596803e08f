import { randomBytes } from 'node:crypto';
import { calculateJwkThumbprint, exportJWK, generateKeyPair, type JWK } from 'jose';
import type { Knex } from 'knex';
import type { Deps } from '../deps.js';
import type { Sealer } from '../secrets/sealer.js';
import { bumpChangeCounters } from '../store/change-counters.js';
import { insertCookieSecret, insertSigningKey, listCookieSecrets, listSigningKeys, type SigningKeyRow } from '../store/keys.js';
import { now } from '../util/clock.js';

/** ES256 signs JWT access tokens; RS256 is what OpenID Connect clients expect by default for ID tokens. */
export const SIGNING_ALGORITHMS = ['ES256', 'RS256'] as const;
export type SigningAlgorithm = (typeof SIGNING_ALGORITHMS)[number];

/**
 * pending: published, not signing yet (relying parties pick it up from the JWKS first).
 * active: signs. retiring: published so tokens it signed still verify; signs nothing new.
 * retired: gone from the JWKS, its private half destroyed (or due to be).
 */
export type KeyState = 'pending' | 'active' | 'retiring' | 'retired';

export function keyState(key: SigningKeyRow, at: Date): KeyState {
  if (key.sealedPrivateJwk === null) return 'retired';
  if (at < key.activatesAt) return 'pending';
  if (key.supersededAt === null || at < key.supersededAt) return 'active';
  if (key.retiresAt !== null && at < key.retiresAt) return 'retiring';
  return 'retired';
}

export interface KeyMaterial {
  /** Private JWKs: the signing ones first (the provider signs with the first of an algorithm), then the verify-only ones. */
  signingKeys: JWK[];
  /** Newest first: the first signs cookies, the rest still verify them. */
  cookieSecrets: string[];
  /** The next moment a key changes state, when the provider has to be rebuilt again. */
  nextTransition: Date | undefined;
}

const signingKeyContext = (kid: string) => `signing_key:${kid}`;
const COOKIE_SECRET_CONTEXT = 'cookie_secret';

/** A new key pair for `alg`, sealed for the database. */
export async function newSigningKey(sealer: Sealer, alg: SigningAlgorithm): Promise<{ kid: string; alg: string; publicJwk: JWK; sealedPrivateJwk: string }> {
  const { privateKey } = await generateKeyPair(alg, { extractable: true, ...(alg === 'RS256' ? { modulusLength: 2048 } : {}) });
  const jwk = await exportJWK(privateKey);
  const kid = await calculateJwkThumbprint(jwk);
  const privateJwk: JWK = { ...jwk, kid, alg, use: 'sig' };
  const { d: _d, p: _p, q: _q, dp: _dp, dq: _dq, qi: _qi, ...publicJwk } = privateJwk;
  return { kid, alg, publicJwk, sealedPrivateJwk: sealer.seal(JSON.stringify(privateJwk), signingKeyContext(kid)) };
}

export async function addCookieSecret(trx: Knex, sealer: Sealer): Promise<void> {
  await insertCookieSecret(trx, sealer.seal(randomBytes(32).toString('base64url'), COOKIE_SECRET_CONTEXT));
}

/**
 * Creates a signing key for each algorithm that has none in service, and the first cookie
 * secret. Runs under the bootstrap lock, so processes started together on an empty database
 * agree on one key set.
 */
export async function ensureKeys(deps: Deps): Promise<void> {
  await deps.db.withExclusiveLock(async () => {
    await deps.db.knex.transaction(async (trx) => {
      const at = now();
      const keys = await listSigningKeys(trx);
      let generated = false;
      for (const alg of SIGNING_ALGORITHMS) {
        const inService = keys.some((key) => key.alg === alg && key.supersededAt === null && keyState(key, at) !== 'retired');
        if (inService) continue;
        const key = await newSigningKey(deps.sealer, alg);
        await insertSigningKey(trx, key);
        deps.log.info({ kid: key.kid, alg }, 'generated a signing key');
        generated = true;
      }
      if ((await listCookieSecrets(trx)).length === 0) {
        await addCookieSecret(trx, deps.sealer);
        generated = true;
      }
      if (generated) await bumpChangeCounters(trx, 'keys');
    });
  });
}

const STATE_ORDER: Record<KeyState, number> = { active: 0, pending: 1, retiring: 2, retired: 3 };

/** The keys the provider is built from, at `at`. */
export async function loadKeys(deps: Deps, at: Date = now()): Promise<KeyMaterial> {
  const all = await listSigningKeys(deps.db.knex);
  const inJwks = all
    .map((key) => ({ key, state: keyState(key, at) }))
    .filter(({ state }) => state !== 'retired')
    // Newest first within a state (listSigningKeys' order), active before the rest.
    .sort((a, b) => STATE_ORDER[a.state] - STATE_ORDER[b.state]);
  const transitions = all
    .flatMap((key) => (key.sealedPrivateJwk === null ? [] : [key.activatesAt, key.supersededAt, key.retiresAt]))
    .filter((moment): moment is Date => moment !== null && moment > at)
    .sort((a, b) => a.getTime() - b.getTime());
  const cookieSecrets = (await listCookieSecrets(deps.db.knex))
    .filter((secret) => secret.retiresAt === null || secret.retiresAt > at)
    .map((secret) => deps.sealer.open(secret.sealedSecret, COOKIE_SECRET_CONTEXT));
  return {
    signingKeys: inJwks.map(({ key }) => JSON.parse(deps.sealer.open(key.sealedPrivateJwk!, signingKeyContext(key.kid))) as JWK),
    cookieSecrets,
    nextTransition: transitions[0],
  };
}
