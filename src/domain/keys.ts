import { randomBytes } from 'node:crypto';
import { calculateJwkThumbprint, exportJWK, generateKeyPair, type JWK } from 'jose';
import type { Knex } from 'knex';
import { z } from 'zod';
import type { Deps } from '../deps.js';
import type { Sealer } from '../secrets/sealer.js';
import { bumpChangeCounters } from '../store/change-counters.js';
import {
  deleteRetiredCookieSecrets,
  destroyRetiredPrivateKeys,
  insertCookieSecret,
  insertSigningKey,
  listCookieSecrets,
  listSigningKeys,
  longestResourceTokenTtl,
  scheduleCookieSecretRetirement,
  supersedeSigningKeys,
  type SigningKeyRow,
} from '../store/keys.js';
import { now } from '../util/clock.js';
import { recordAudit, type Actor } from './audit.js';
import { parseInput } from './validation.js';

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
  // Superseded before it ever signed (a rotation with a shorter delay overtook it): it never will.
  if (key.supersededAt !== null && key.supersededAt <= key.activatesAt) {
    return key.retiresAt !== null && at < key.retiresAt ? 'retiring' : 'retired';
  }
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

export async function addCookieSecret(trx: Knex, sealer: Sealer, activatesAt?: Date): Promise<void> {
  await insertCookieSecret(trx, sealer.seal(randomBytes(32).toString('base64url'), COOKIE_SECRET_CONTEXT), activatesAt);
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
  const secrets = (await listCookieSecrets(deps.db.knex))
    .filter((secret) => secret.retiresAt === null || secret.retiresAt > at)
    // Newest first (the list's order), the ones already signing before those still pending.
    .sort((a, b) => Number(a.activatesAt > at) - Number(b.activatesAt > at));
  const transitions = [
    ...all.flatMap((key) => (key.sealedPrivateJwk === null ? [] : [key.activatesAt, key.supersededAt, key.retiresAt])),
    ...secrets.flatMap((secret) => [secret.activatesAt, secret.retiresAt]),
  ]
    .filter((moment): moment is Date => moment !== null && moment > at)
    .sort((a, b) => a.getTime() - b.getTime());
  const cookieSecrets = secrets.map((secret) => deps.sealer.open(secret.sealedSecret, COOKIE_SECRET_CONTEXT));
  return {
    signingKeys: inJwks.map(({ key }) => JSON.parse(deps.sealer.open(key.sealedPrivateJwk!, signingKeyContext(key.kid))) as JWK),
    cookieSecrets,
    nextTransition: transitions[0],
  };
}

/** A signing key as operators see it (`latchkey keys list`, the admin API, metrics). */
export interface KeyInfo {
  kid: string;
  alg: string;
  state: KeyState;
  createdAt: Date;
  activatesAt: Date;
  supersededAt: Date | null;
  retiresAt: Date | null;
  /** Whole seconds since the key was made. */
  ageSeconds: number;
}

function keyInfo(key: SigningKeyRow, at: Date): KeyInfo {
  return {
    kid: key.kid,
    alg: key.alg,
    state: keyState(key, at),
    createdAt: key.createdAt,
    activatesAt: key.activatesAt,
    supersededAt: key.supersededAt,
    retiresAt: key.retiresAt,
    ageSeconds: Math.max(0, Math.floor((at.getTime() - key.createdAt.getTime()) / 1000)),
  };
}

/** Every signing key, retired ones included, the most recently activating first. */
export async function listKeys(deps: Deps): Promise<KeyInfo[]> {
  const at = now();
  return (await listSigningKeys(deps.db.knex)).map((key) => keyInfo(key, at));
}

/** Beyond this a delay is a typo rather than a plan (and past what a timestamp holds for large inputs). */
export const MAX_ACTIVATION_DELAY = 365 * 86400;

/**
 * Kept on top of the longest token lifetime: relying parties may check expiry against a clock
 * behind ours, and a node keeps signing with the old key until it has picked up the change.
 */
const CLOCK_MARGIN_SECONDS = 60;

const rotateInput = z.object({
  algs: z
    .array(z.enum(SIGNING_ALGORITHMS, { message: `must be ${SIGNING_ALGORITHMS.join(' or ')}` }), { message: 'must be a list of algorithms' })
    .min(1, { message: 'must name at least one algorithm' })
    .optional(),
  activationDelay: z
    .number({ message: 'must be a number of seconds' })
    .int({ message: 'must be whole seconds' })
    .min(0, { message: 'must not be negative' })
    .max(MAX_ACTIVATION_DELAY, { message: 'must be at most 365 days' })
    .optional(),
});

export type RotateKeysInput = z.input<typeof rotateInput>;

/**
 * The longest a token signed now can stay valid (seconds): the longest ID or access token any
 * client or API can get. A client's own access-token lifetime only shortens its API's
 * (oidc/configuration.ts), so it never counts.
 */
async function longestTokenLifetime(deps: Deps, db: Knex): Promise<number> {
  const { idTtl, accessTtl } = deps.config.tokens;
  return Math.max(idTtl, accessTtl, (await longestResourceTokenTtl(db)) ?? 0);
}

/** Change-feed polls a rotated-in key waits before it signs, so every node has it by then. */
const PROPAGATION_POLLS = 10;

/** The shortest activation delay: every node has seen the new keys by then. */
function propagationSeconds(deps: Deps): number {
  return Math.ceil((PROPAGATION_POLLS * deps.config.cache.pollIntervalMs) / 1000);
}

const later = (at: Date, seconds: number) => new Date(at.getTime() + seconds * 1000);

/**
 * A new signing key per algorithm, published at once and signing after the activation delay,
 * when the keys it replaces stop signing; they stay published until every token they signed
 * has expired. Also a new cookie secret, which signs from the same moment, while the older ones
 * keep verifying cookies for as long as a session can last. Nothing new signs before every node
 * can have learnt it (ten change-feed polls).
 */
export async function rotateKeys(deps: Deps, actor: Actor, input: RotateKeysInput = {}): Promise<KeyInfo[]> {
  const parsed = parseInput(rotateInput, input);
  const algs = [...new Set(parsed.algs ?? SIGNING_ALGORITHMS)];
  const delay = parsed.activationDelay ?? deps.config.keys.activationDelay;
  // Key generation (RSA especially) is slow; it happens before the transaction takes its locks.
  const fresh = await Promise.all(algs.map((alg) => newSigningKey(deps.sealer, alg)));
  return deps.db.knex.transaction(async (trx) => {
    // First, not last: the counter's row lock makes a concurrent rotation wait for this one and
    // then see its keys, so every algorithm keeps one key that has not been superseded.
    await bumpChangeCounters(trx, 'keys');
    const at = now();
    // Never before every node can have published it: a token signed by a key that another
    // node's JWKS does not list yet would fail to verify for whoever fetched the JWKS there.
    const activatesAt = later(at, Math.max(delay, propagationSeconds(deps)));
    const retiresAt = later(activatesAt, (await longestTokenLifetime(deps, trx)) + CLOCK_MARGIN_SECONDS);
    const superseded: string[] = [];
    for (const key of fresh) {
      superseded.push(...(await supersedeSigningKeys(trx, key.alg, activatesAt, retiresAt)));
      await insertSigningKey(trx, { ...key, activatesAt });
    }
    // Likewise the new cookie secret verifies on every node before it signs on any.
    await scheduleCookieSecretRetirement(trx, later(activatesAt, deps.config.sessions.absoluteTtl));
    await addCookieSecret(trx, deps.sealer, activatesAt);
    await recordAudit(trx, actor, {
      type: 'keys.rotated',
      details: { kids: fresh.map((key) => key.kid), algs, activation_delay: delay, activates_at: activatesAt.toISOString(), superseded },
    });
    const created = new Set(fresh.map((key) => key.kid));
    return (await listSigningKeys(trx)).filter((key) => created.has(key.kid)).map((key) => keyInfo(key, at));
  });
}

/**
 * Finishes what rotations scheduled: keys past their retirement lose their private half (the
 * public half stays for the record) and cookie secrets past theirs are deleted.
 */
export async function retireKeys(deps: Deps): Promise<{ retired: string[]; cookieSecretsDeleted: number }> {
  const result = await deps.db.knex.transaction(async (trx) => {
    const at = now();
    const retired = await destroyRetiredPrivateKeys(trx, at);
    const cookieSecretsDeleted = await deleteRetiredCookieSecrets(trx, at);
    if (retired.length > 0 || cookieSecretsDeleted > 0) await bumpChangeCounters(trx, 'keys');
    return { retired, cookieSecretsDeleted };
  });
  if (result.retired.length > 0 || result.cookieSecretsDeleted > 0) deps.log.info(result, 'retired signing keys and cookie secrets');
  return result;
}
