import type { Knex } from 'knex';
import type { JWK } from 'jose';

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
  /** When it stops verifying cookies; null while it is the newest. */
  retiresAt: Date | null;
}

/** Newest first: the first one signs cookies, the others still verify them. */
export async function listCookieSecrets(db: Knex): Promise<CookieSecretRow[]> {
  const rows = await db<{ id: number; sealed_secret: string; created_at: Date | string; retires_at: Date | string | null }>('cookie_secrets').orderBy('id', 'desc');
  return rows.map((row) => ({ id: row.id, sealedSecret: row.sealed_secret, createdAt: date(row.created_at), retiresAt: optionalDate(row.retires_at) }));
}

export async function insertCookieSecret(db: Knex, sealedSecret: string): Promise<void> {
  await db('cookie_secrets').insert({ sealed_secret: sealedSecret });
}
