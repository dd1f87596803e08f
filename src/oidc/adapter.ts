import { errors, type Adapter, type AdapterPayload } from 'oidc-provider';
import type { Deps } from '../deps.js';
import { isOidcScope } from '../domain/scopes.js';
import type { ClientRow } from '../store/clients.js';
import {
  consumePayload,
  deletePayload,
  deletePayloadsByGrantId,
  findPayload,
  findPayloadByUid,
  findPayloadByUserCode,
  upsertPayload,
  type PayloadKey,
  type StoredPayload,
} from '../store/oidc-payloads.js';
import { now } from '../util/clock.js';
import { sha256 } from '../util/digest.js';

/**
 * Ids are stored as SHA-256 digests and `jti` is left out of the stored payload, so a
 * database dump holds no access token, refresh token, code or session id that works.
 */
const digest = (id: string) => sha256(id);

function restore(stored: StoredPayload, id: string | undefined): AdapterPayload {
  const payload = { ...stored.payload } as AdapterPayload;
  if (id !== undefined) payload.jti = id;
  if (stored.consumedAt) payload.consumed = Math.floor(stored.consumedAt.getTime() / 1000);
  return payload;
}

/**
 * The payload minus what would let a reader act as someone: the artifact's own id (`jti`), and
 * the session id oidc-provider copies into an Interaction (`session.cookie`, which it never reads back).
 */
function storable(payload: AdapterPayload): Record<string, unknown> {
  const { jti: _jti, consumed: _consumed, ...rest } = payload;
  const session = rest.session as Record<string, unknown> | undefined;
  if (session && typeof session === 'object' && 'cookie' in session) {
    const { cookie: _cookie, ...sessionWithoutCookie } = session;
    return { ...rest, session: sessionWithoutCookie };
  }
  return rest;
}

function optionalString(value: unknown): string | null {
  return typeof value === 'string' ? value : null;
}

/**
 * The metadata oidc-provider validates and builds its Client from. Its `scope` may only hold
 * the provider's own (OpenID Connect) scopes; API scopes are granted per resource through
 * getResourceServerInfo.
 */
export function providerClientMetadata(client: ClientRow): AdapterPayload {
  const { scope, ...metadata } = client.metadata;
  const oidcScopes = scope.split(' ').filter(isOidcScope);
  return {
    client_id: client.clientId,
    client_name: client.name,
    // The provider only ever sees the digest; compareClientSecret (provider.ts) hashes what clients present.
    ...(client.clientSecretHash ? { client_secret: client.clientSecretHash } : {}),
    ...metadata,
    ...(oidcScopes.length > 0 ? { scope: oidcScopes.join(' ') } : {}),
  } as AdapterPayload;
}

export function createAdapterFactory(deps: Deps): (model: string) => Adapter {
  const db = deps.db.knex;

  class ClientAdapter implements Adapter {
    async find(id: string) {
      const client = await deps.catalog.client(id);
      return client ? providerClientMetadata(client) : undefined;
    }
    // Clients change through Latchkey's own domain functions, never through the provider.
    async upsert() {
      throw new errors.InvalidRequest('clients are managed by Latchkey, not through this endpoint');
    }
    async destroy() {
      throw new errors.InvalidRequest('clients are managed by Latchkey, not through this endpoint');
    }
    async findByUid() {
      return undefined;
    }
    async findByUserCode() {
      return undefined;
    }
    async consume() {}
    async revokeByGrantId() {}
  }

  class PayloadAdapter implements Adapter {
    constructor(private readonly model: string) {}

    private key(id: string): PayloadKey {
      return { model: this.model, id: digest(id) };
    }

    async upsert(id: string, payload: AdapterPayload, expiresIn: number) {
      await upsertPayload(db, this.key(id), {
        payload: storable(payload),
        // A grant and its tokens share one key: the digest of the grant id.
        grantId: this.model === 'Grant' ? digest(id) : typeof payload.grantId === 'string' ? digest(payload.grantId) : null,
        userCode: optionalString(payload.userCode),
        uid: optionalString(payload.uid),
        accountId: optionalString(payload.accountId),
        clientId: optionalString(payload.clientId),
        expiresAt: expiresIn ? new Date(now().getTime() + expiresIn * 1000) : null,
      });
    }

    async find(id: string) {
      const stored = await findPayload(db, this.key(id), now());
      return stored ? restore(stored, id) : undefined;
    }

    // The raw id is not stored, so what comes back has no jti; the provider only reads these.
    async findByUid(uid: string) {
      const stored = await findPayloadByUid(db, this.model, uid, now());
      return stored ? restore(stored, undefined) : undefined;
    }

    async findByUserCode(userCode: string) {
      const stored = await findPayloadByUserCode(db, this.model, userCode, now());
      return stored ? restore(stored, undefined) : undefined;
    }

    async consume(id: string) {
      // Losing a race to redeem the same code or refresh token is a reuse, not a server error.
      if (!(await consumePayload(db, this.key(id), now()))) {
        throw new errors.InvalidGrant('grant request is invalid: it was already used');
      }
    }

    async destroy(id: string) {
      await deletePayload(db, this.key(id));
    }

    async revokeByGrantId(grantId: string) {
      await deletePayloadsByGrantId(db, digest(grantId));
    }
  }

  // oidc-provider accepts a factory and asks it once per model.
  return (model: string) => (model === 'Client' ? new ClientAdapter() : new PayloadAdapter(model));
}
