import type { Deps } from '../deps.js';
import { LatchkeyError } from '../errors.js';
import { deletePayloadsByGrantId, findGrant, listGrants as selectGrants, type GrantRecord } from '../store/oidc-payloads.js';
import { now } from '../util/clock.js';
import { recordAudit, type Actor } from './audit.js';
import { emitEvent } from './events/emit.js';
import { getUser } from './users.js';

/** What a user allowed an application: its OpenID Connect scopes and, per API, the API's scopes. */
export interface UserGrant {
  grantId: string;
  accountId: string;
  clientId: string;
  scope: string;
  resources: Array<{ identifier: string; scope: string }>;
  createdAt: Date;
  expiresAt: Date | null;
}

function fromRecord(record: GrantRecord): UserGrant {
  const payload = record.payload as { openid?: { scope?: string }; resources?: Record<string, string>; iat?: number };
  return {
    grantId: record.grantId,
    accountId: record.accountId,
    clientId: record.clientId,
    scope: payload.openid?.scope ?? '',
    resources: Object.entries(payload.resources ?? {}).map(([identifier, scope]) => ({ identifier, scope })),
    createdAt: new Date((payload.iat ?? 0) * 1000),
    expiresAt: record.expiresAt,
  };
}

/** Every live grant of a user, newest expiry first; a user holds one grant per application. */
export async function listUserGrants(deps: Deps, userId: string): Promise<UserGrant[]> {
  await getUser(deps, userId);
  return (await selectGrants(deps.db.knex, userId, now())).map(fromRecord);
}

export async function getGrant(deps: Deps, grantId: string): Promise<UserGrant> {
  const record = await findGrant(deps.db.knex, grantId, now());
  if (!record) throw new LatchkeyError('grant.not_found', `no grant with id ${grantId}`);
  return fromRecord(record);
}

/** Revokes a grant with every token issued under it; the application must ask the user again. */
export async function revokeGrant(deps: Deps, actor: Actor, grantId: string): Promise<UserGrant> {
  return deps.db.knex.transaction(async (trx) => {
    const record = await findGrant(trx, grantId, now());
    if (!record) throw new LatchkeyError('grant.not_found', `no grant with id ${grantId}`);
    await deletePayloadsByGrantId(trx, grantId);
    await recordAudit(trx, actor, {
      type: 'grant.revoked',
      subject: { type: 'grant', id: grantId },
      details: { user_id: record.accountId, client_id: record.clientId },
    });
    await emitEvent(trx, 'grant.revoked', { grant_id: grantId, user_id: record.accountId, client_id: record.clientId });
    return fromRecord(record);
  });
}
