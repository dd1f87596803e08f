import type { Knex } from 'knex';
import type { JWK } from 'jose';
import { toNumber } from './sql.js';

export interface SigningKeyRow {
  kid: string;
  alg: string;
  publicJwk: JWK;
  /** Null once retired: the private half is destroyed. */
  sealedPrivateJwk: string | null;
  createdAt: Date;
  /** When it starts signing; published in the JWKS from creation. */
  activatesAt: Date;
  /** When a newer key of its algorithm takes over signing. */
  supersededAt: Date | null;
  /** When every token it signed has expired and it leaves the JWKS. */
  retiresAt: Date | null;
}

interface SigningKeyColumns {
  kid: string;
  alg: string;
  public_jwk: JWK | string;
  sealed_private_jwk: string | null;
  created_at: Date | string;
  activates_at: Date | string;
  superseded_at: Date | string | null;
  retires_at: Date | string | null;
}

const date = (value: Date | string) => new Date(value);
const optionalDate = (value: Date | string | null) => (value === null ? null : new Date(value));

function signingKey(row: SigningKeyColumns): SigningKeyRow {
  return {
    kid: row.kid,
    alg: row.alg,
    publicJwk: typeof row.public_jwk === 'string' ? (JSON.parse(row.public_jwk) as JWK) : row.public_jwk,
    sealedPrivateJwk: row.sealed_private_jwk,
    createdAt: date(row.created_at),
    activatesAt: date(row.activates_at),
    supersededAt: optionalDate(row.superseded_at),
    retiresAt: optionalDate(row.retires_at),
  };
}

/** Newest first. */
export async function listSigningKeys(db: Knex): Promise<SigningKeyRow[]> {
  const rows = await db<SigningKeyColumns>('signing_keys').orderBy([
    { column: 'activates_at', order: 'desc' },
    { column: 'created_at', order: 'desc' },
  ]);
  return rows.map(signingKey);
}

export async function insertSigningKey(
  db: Knex,
  key: { kid: string; alg: string; publicJwk: JWK; sealedPrivateJwk: string; activatesAt?: Date },
): Promise<void> {
  await db('signing_keys').insert({
    kid: key.kid,
    alg: key.alg,
    public_jwk: JSON.stringify(key.publicJwk),
    sealed_private_jwk: key.sealedPrivateJwk,
    ...(key.activatesAt ? { activates_at: key.activatesAt } : {}),
  });
}

export interface CookieSecretRow {
  id: number;
  sealedSecret: string;
  createdAt: Date;
  /** When it starts signing cookies; it verifies them from creation. */
  activatesAt: Date;
  /** When it stops verifying cookies; null while it is the newest. */
  retiresAt: Date | null;
}

interface CookieSecretColumns {
  id: number;
  sealed_secret: string;
  created_at: Date | string;
  activates_at: Date | string;
  retires_at: Date | string | null;
}

/** Newest first. */
export async function listCookieSecrets(db: Knex): Promise<CookieSecretRow[]> {
  const rows = await db<CookieSecretColumns>('cookie_secrets').orderBy('id', 'desc');
  return rows.map((row) => ({
    id: row.id,
    sealedSecret: row.sealed_secret,
    createdAt: date(row.created_at),
    activatesAt: date(row.activates_at),
    retiresAt: optionalDate(row.retires_at),
  }));
}

export async function insertCookieSecret(db: Knex, sealedSecret: string, activatesAt?: Date): Promise<void> {
  await db('cookie_secrets').insert({ sealed_secret: sealedSecret, ...(activatesAt ? { activates_at: activatesAt } : {}) });
}

/**
 * Hands signing over from every key of `alg` still due to sign past `supersededAt`: they stop
 * then, and leave the JWKS at `retiresAt`. Returns the kids handed over.
 */
export async function supersedeSigningKeys(db: Knex, alg: string, supersededAt: Date, retiresAt: Date): Promise<string[]> {
  const rows = await db('signing_keys')
    .where({ alg })
    .whereNotNull('sealed_private_jwk')
    .andWhere((query) => query.whereNull('superseded_at').orWhere('superseded_at', '>', supersededAt))
    .update({ superseded_at: supersededAt, retires_at: retiresAt })
    .returning('kid');
  return rows.map((row: { kid: string }) => row.kid);
}

/** Destroys the private half of every key whose retirement has come; returns their kids. */
export async function destroyRetiredPrivateKeys(db: Knex, at: Date): Promise<string[]> {
  const rows = await db('signing_keys')
    .whereNotNull('sealed_private_jwk')
    .andWhere('retires_at', '<=', at)
    .update({ sealed_private_jwk: null })
    .returning('kid');
  return rows.map((row: { kid: string }) => row.kid);
}

/** Gives every cookie secret not yet retiring its retirement date; run before adding a newer one. */
export async function scheduleCookieSecretRetirement(db: Knex, retiresAt: Date): Promise<void> {
  await db('cookie_secrets').whereNull('retires_at').update({ retires_at: retiresAt });
}

/** Deletes cookie secrets whose retirement has come, never the newest; returns how many went. */
export async function deleteRetiredCookieSecrets(db: Knex, at: Date): Promise<number> {
  const rows = await db('cookie_secrets')
    .where('retires_at', '<=', at)
    .andWhere('id', '<', db('cookie_secrets').max('id'))
    .delete()
    .returning('id');
  return rows.length;
}

/** The longest access-token lifetime any API has of its own (seconds), if one has any. */
export async function longestResourceTokenTtl(db: Knex): Promise<number | undefined> {
  const row = (await db('resources').max({ longest: 'access_token_ttl' }).first()) as { longest: number | string | null } | undefined;
  return row?.longest === null || row?.longest === undefined ? undefined : toNumber(row.longest);
}
