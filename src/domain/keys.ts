import { randomBytes } from 'node:crypto';
import { calculateJwkThumbprint, exportJWK, generateKeyPair, type JWK } from 'jose';
import type { Deps } from '../deps.js';
import { bumpChangeCounters } from '../store/change-counters.js';
import { insertCookieSecret, insertSigningKey, listCookieSecrets, listSigningKeys } from '../store/keys.js';

/** ES256 signs JWT access tokens; RS256 is what OpenID Connect clients expect by default for ID tokens. */
export const SIGNING_ALGORITHMS = ['ES256', 'RS256'] as const;

export interface KeyMaterial {
  /** Private JWKs, in the order the provider should prefer them. */
  signingKeys: JWK[];
  cookieSecrets: string[];
}

/**
 * Creates the signing keys and cookie secret on the first start. Runs under the bootstrap
 * lock, so processes started together on an empty database agree on one key set.
 */
export async function ensureKeys(deps: Deps): Promise<void> {
  await deps.db.withExclusiveLock(async () => {
    await deps.db.knex.transaction(async (trx) => {
      const existing = new Set((await listSigningKeys(trx)).map((key) => key.alg));
      let generated = false;
      for (const alg of SIGNING_ALGORITHMS) {
        if (existing.has(alg)) continue;
        const { privateKey } = await generateKeyPair(alg, { extractable: true, ...(alg === 'RS256' ? { modulusLength: 2048 } : {}) });
        const jwk = await exportJWK(privateKey);
        const kid = await calculateJwkThumbprint(jwk);
        await insertSigningKey(trx, { kid, alg, privateJwk: { ...jwk, kid, alg, use: 'sig' } });
        deps.log.info({ kid, alg }, 'generated a signing key');
        generated = true;
      }
      if ((await listCookieSecrets(trx)).length === 0) {
        await insertCookieSecret(trx, randomBytes(32).toString('base64url'));
        generated = true;
      }
      if (generated) await bumpChangeCounters(trx, 'keys');
    });
  });
}

export async function loadKeys(deps: Deps): Promise<KeyMaterial> {
  const keys = (await listSigningKeys(deps.db.knex)).filter((key) => key.state === 'active');
  const order = (alg: string) => SIGNING_ALGORITHMS.indexOf(alg as (typeof SIGNING_ALGORITHMS)[number]);
  keys.sort((a, b) => order(a.alg) - order(b.alg));
  return { signingKeys: keys.map((key) => key.privateJwk), cookieSecrets: await listCookieSecrets(deps.db.knex) };
}
