import type { Knex } from 'knex';
import type { JWK } from 'jose';

export interface SigningKeyRow {
  kid: string;
  alg: string;
  privateJwk: JWK;
  state: string;
  createdAt: Date;
}

interface SigningKeyColumns {
  kid: string;
  alg: string;
  private_jwk: JWK | string;
  state: string;
  created_at: Date | string;
}

export async function listSigningKeys(db: Knex): Promise<SigningKeyRow[]> {
  const rows = await db<SigningKeyColumns>('signing_keys').orderBy('created_at', 'desc');
  return rows.map((row) => ({
    kid: row.kid,
    alg: row.alg,
    privateJwk: typeof row.private_jwk === 'string' ? (JSON.parse(row.private_jwk) as JWK) : row.private_jwk,
    state: row.state,
    createdAt: new Date(row.created_at),
  }));
}

export async function insertSigningKey(db: Knex, key: { kid: string; alg: string; privateJwk: JWK }): Promise<void> {
  await db('signing_keys').insert({ kid: key.kid, alg: key.alg, private_jwk: JSON.stringify(key.privateJwk) });
}

/** Newest first: the first one signs cookies, the others still verify them. */
export async function listCookieSecrets(db: Knex): Promise<string[]> {
  const rows = await db<{ secret: string }>('cookie_secrets').orderBy('id', 'desc').select('secret');
  return rows.map((row) => row.secret);
}

export async function insertCookieSecret(db: Knex, secret: string): Promise<void> {
  await db('cookie_secrets').insert({ secret });
}
