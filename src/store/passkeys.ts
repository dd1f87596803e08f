import type { Knex } from 'knex';
import { isStorableKey, toNumber } from './sql.js';

export type PasskeyDeviceType = 'singleDevice' | 'multiDevice';

export interface PasskeyRow {
  id: string;
  userId: string;
  /** base64url, as the authenticator names the credential in an assertion. */
  credentialId: string;
  /** The COSE public key, base64url. */
  publicKey: string;
  counter: number;
  transports: string[];
  deviceType: PasskeyDeviceType;
  backedUp: boolean;
  name: string;
  createdAt: Date;
  lastUsedAt: Date | null;
}

interface PasskeyColumns {
  id: string;
  user_id: string;
  credential_id: string;
  public_key: string;
  counter: string | number;
  transports: string[];
  device_type: string;
  backed_up: boolean;
  name: string;
  created_at: Date | string;
  last_used_at: Date | string | null;
}

function fromColumns(row: PasskeyColumns): PasskeyRow {
  return {
    id: row.id,
    userId: row.user_id,
    credentialId: row.credential_id,
    publicKey: row.public_key,
    counter: toNumber(row.counter),
    transports: row.transports,
    deviceType: row.device_type === 'multiDevice' ? 'multiDevice' : 'singleDevice',
    backedUp: row.backed_up,
    name: row.name,
    createdAt: new Date(row.created_at),
    lastUsedAt: row.last_used_at === null ? null : new Date(row.last_used_at),
  };
}

export type NewPasskey = Omit<PasskeyRow, 'createdAt' | 'lastUsedAt'>;

export async function insertPasskey(db: Knex, passkey: NewPasskey): Promise<PasskeyRow> {
  const [row] = await db<PasskeyColumns>('passkeys')
    .insert({
      id: passkey.id,
      user_id: passkey.userId,
      credential_id: passkey.credentialId,
      public_key: passkey.publicKey,
      counter: passkey.counter,
      transports: passkey.transports,
      device_type: passkey.deviceType,
      backed_up: passkey.backedUp,
      name: passkey.name,
    })
    .returning('*');
  return fromColumns(row as PasskeyColumns);
}

export async function listUserPasskeys(db: Knex, userId: string): Promise<PasskeyRow[]> {
  const rows = await db<PasskeyColumns>('passkeys').where({ user_id: userId }).orderBy([{ column: 'created_at' }, { column: 'id' }]);
  return rows.map(fromColumns);
}

export async function findPasskeyByCredentialId(db: Knex, credentialId: string): Promise<PasskeyRow | undefined> {
  if (!isStorableKey(credentialId)) return undefined;
  const row = await db<PasskeyColumns>('passkeys').where({ credential_id: credentialId }).first();
  return row ? fromColumns(row) : undefined;
}

/**
 * Records a use: the new counter only if it is still above the stored one, in one statement, so
 * of two requests carrying the same assertion (on two nodes) one wins. A counter of 0 (an
 * authenticator that keeps none) stays 0 and is always accepted.
 */
export async function recordPasskeyUse(db: Knex, id: string, previous: number, counter: number): Promise<boolean> {
  const query = db('passkeys').where({ id }).update({ counter, last_used_at: db.fn.now() });
  if (counter > 0 || previous > 0) query.andWhere('counter', '<', counter);
  return (await query) === 1;
}

/** Deletes the user's own passkey; another user's id matches nothing. */
export async function deleteUserPasskey(db: Knex, userId: string, id: string): Promise<PasskeyRow | undefined> {
  const [row] = await db<PasskeyColumns>('passkeys').where({ user_id: userId, id }).delete().returning('*');
  return row ? fromColumns(row as PasskeyColumns) : undefined;
}
