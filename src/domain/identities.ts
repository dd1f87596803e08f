import type { Knex } from 'knex';
import type { Deps } from '../deps.js';
import { countFactors } from '../store/factors.js';
import { deleteUserIdentity, insertIdentity, listUserIdentities, type UpstreamIdentityRow } from '../store/upstream-identities.js';
import { listProviders } from '../store/upstream-providers.js';
import { findUserById } from '../store/users.js';
import { LatchkeyError } from '../errors.js';
import { mapUniqueViolation } from '../store/sql.js';
import { recordAudit, type Actor } from './audit.js';

/**
 * Links an upstream identity to an account the user has just proven. The identity can belong to
 * one account only: a second link of the same upstream subject is refused by the database.
 */
export async function linkIdentity(deps: Deps, actor: Actor, link: IdentityLink, options: { trx?: Knex } = {}): Promise<UpstreamIdentityRow> {
  const insert = async (trx: Knex) => {
    const identity = await mapUniqueViolation(insertIdentity(trx, link), 'input.invalid', 'identity');
    await recordAudit(trx, actor, { type: 'user.identity_linked', subject: { type: 'user', id: link.userId }, details: { provider: link.providerId } });
    return identity;
  };
  return options.trx ? insert(options.trx) : deps.db.knex.transaction(insert);
}

export interface IdentityLink {
  providerId: string;
  subject: string;
  userId: string;
  email: string | null;
}

/** A linked identity as the account page shows it: with its provider's name. */
export interface LinkedIdentity extends UpstreamIdentityRow {
  providerName: string;
}

export async function identitiesOf(deps: Deps, userId: string): Promise<LinkedIdentity[]> {
  const [identities, providers] = await Promise.all([listUserIdentities(deps.db.knex, userId), listProviders(deps.db.knex)]);
  const names = new Map(providers.map((provider) => [provider.id, provider.displayName]));
  return identities.map((identity) => ({ ...identity, providerName: names.get(identity.providerId) ?? identity.providerId }));
}

/**
 * For a transaction about to take away a way to sign in (an identity, a passkey): locks the user,
 * so two removals at once do not each see the other as the way left, and returns a check to run
 * after the removal that refuses it when the account has no password, passkey or identity left.
 */
export async function guardLastWayIn(trx: Knex, userId: string): Promise<() => Promise<void>> {
  await trx('users').where({ id: userId }).forUpdate().first();
  return async () => {
    const user = await findUserById(trx, userId);
    if (user?.passwordHash) return;
    if ((await listUserIdentities(trx, userId)).length > 0 || (await countFactors(trx, userId)).passkeys > 0) return;
    throw new LatchkeyError('identity.last_way_in');
  };
}

/** Unlinks an upstream identity from its account, unless it is the last way in. */
export async function unlinkIdentity(deps: Deps, actor: Actor, userId: string, identityId: string): Promise<UpstreamIdentityRow> {
  return deps.db.knex.transaction(async (trx) => {
    const stillSignsIn = await guardLastWayIn(trx, userId);
    const identity = (await listUserIdentities(trx, userId)).find((candidate) => candidate.id === identityId);
    if (!identity) throw new LatchkeyError('identity.not_found');
    await deleteUserIdentity(trx, userId, identityId);
    await stillSignsIn();
    await recordAudit(trx, actor, { type: 'user.identity_unlinked', subject: { type: 'user', id: userId }, details: { provider: identity.providerId } });
    return identity;
  });
}
