import Provider, { errors, type Adapter, type AdapterPayload, type KoaContextWithOIDC } from 'oidc-provider';
import type { Deps } from '../deps.js';
import type { Actor } from '../domain/audit.js';
import { deleteDynamicClient, registerDynamicClient, updateDynamicClient } from '../domain/dynamic-clients.js';
import { findUsableToken } from '../domain/initial-access-tokens.js';
import { isOidcScope } from '../domain/scopes.js';
import { LatchkeyError } from '../errors.js';
import { findClient } from '../store/clients.js';
import type { ClientRow } from '../store/clients.js';
import {
  consumePayloads,
  deletePayload,
  deletePayloadsByGrantId,
  findPayload,
  findPayloadsByIds,
  findPayloadByUid,
  findPayloadByUserCode,
  upsertPayloads,
  type PayloadKey,
  type PayloadRow,
  type PayloadsById,
  type StoredPayload,
} from '../store/oidc-payloads.js';
import { DATABASE_BATCHING } from '../db/batching.js';
import { createBatcher } from '../util/batcher.js';
import { now } from '../util/clock.js';
import { sha256 } from '../util/digest.js';
import type { Sealer } from '../secrets/sealer.js';
import { orUnavailable } from './unavailable.js';

/**
 * Ids are stored as SHA-256 digests and `jti` is left out of the stored payload, so a
 * database dump holds no access token, refresh token, code or session id that works.
 */
const digest = (id: string) => sha256(id);

/**
 * A device code is found by its user code and saved back (confirmed, approved), and the
 * interaction that approves it names it; the provider needs its real id for both. So that id is
 * kept, sealed under the master key: a database dump still holds no device code that works.
 */
const DEVICE_CODE_ID = 'device_code_id';
/** A lookup as of this moment finds rows whatever their expiry. */
const EVEN_EXPIRED = new Date(0);
const SEALED_ID = 'sealedJti';
const SEALED_DEVICE_CODE = 'sealedDeviceCode';

function restore(sealer: Sealer, stored: StoredPayload, id: string | undefined): AdapterPayload {
  // A copy to its depth: the provider changes what it finds (a grant's scopes) before saving, and
  // a read kept for the rest of the request must not see that.
  const { [SEALED_ID]: sealedId, [SEALED_DEVICE_CODE]: sealedDeviceCode, ...payload } = structuredClone(stored.payload) as AdapterPayload;
  if (id !== undefined) payload.jti = id;
  else if (typeof sealedId === 'string') payload.jti = sealer.open(sealedId, DEVICE_CODE_ID);
  if (typeof sealedDeviceCode === 'string') payload.deviceCode = sealer.open(sealedDeviceCode, DEVICE_CODE_ID);
  if (stored.consumedAt) payload.consumed = Math.floor(stored.consumedAt.getTime() / 1000);
  return payload as AdapterPayload;
}

/**
 * The payload minus what would let a reader act as someone: the artifact's own id (`jti`), and
 * the session id oidc-provider copies into an Interaction (`session.cookie`, which it never reads back).
 * A grant keeps its id: no request can present one (sessions and tokens hold it already), and a
 * user's new sessions find the consent they gave by it (loadExistingGrant in configuration.ts).
 */
function storable(sealer: Sealer, model: string, payload: AdapterPayload): Record<string, unknown> {
  const { jti, consumed: _consumed, ...kept } = payload;
  let rest: Record<string, unknown> = kept;
  if (model === 'Grant') return { ...rest, jti };
  if (model === 'DeviceCode' && typeof jti === 'string') return { ...rest, [SEALED_ID]: sealer.seal(jti, DEVICE_CODE_ID) };
  if (typeof rest.deviceCode === 'string') {
    const { deviceCode, ...others } = rest;
    rest = { ...others, [SEALED_DEVICE_CODE]: sealer.seal(deviceCode, DEVICE_CODE_ID) };
  }
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

/** The registration policy every initial access token carries, so it runs on create and on each update. */
export const REGISTRATION_POLICY = 'latchkey-self-registration';

const epochSeconds = (date: Date) => Math.floor(date.getTime() / 1000);

/** The request the provider is serving: adapters are called without it, but always inside one. */
function currentRequest(): KoaContextWithOIDC {
  const ctx = Provider.ctx;
  if (!ctx) throw new Error('a client registration was stored outside of a request');
  return ctx;
}

/** Domain refusals become the OAuth errors RFC 7591/7592 expect rather than a 500. */
async function asOAuthError<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (error instanceof LatchkeyError && error.code === 'input.invalid') throw new errors.InvalidClientMetadata(error.message);
    if (error instanceof LatchkeyError && error.code === 'client.not_found') throw new errors.InvalidToken('client not found');
    throw error;
  }
}

/** Models whose ids are token values handed to clients: one value names at most one of them. */
const TOKEN_MODELS: ReadonlySet<string> = new Set(['AccessToken', 'ClientCredentials', 'RefreshToken']);

interface RequestReads {
  readonly cached: Map<string, Promise<StoredPayload | undefined>>;
  /** Counts the request's writes: what a read started before one brings back is not kept. */
  writes: number;
}
const readsByRequest = new WeakMap<object, RequestReads>();

/**
 * What the provider request in progress has read of tokens and grants. Every write through
 * the adapter forgets what it touches, so a request never reads back a stale row of its own.
 */
function requestReads(): RequestReads | undefined {
  const ctx = Provider.ctx;
  if (!ctx) return undefined;
  let reads = readsByRequest.get(ctx);
  if (!reads) {
    reads = { cached: new Map(), writes: 0 };
    readsByRequest.set(ctx, reads);
  }
  return reads;
}

/** Before a write: `key`, or with none every row, is read afresh from now on. */
function forgetReads(key?: PayloadKey): void {
  const reads = requestReads();
  if (!reads) return;
  reads.writes += 1;
  if (key) reads.cached.delete(`${key.model}:${key.id}`);
  else reads.cached.clear();
}

export function createAdapterFactory(deps: Deps): (model: string) => Adapter {
  const db = deps.db.knex;

  /**
   * The provider writes clients only from the registration endpoints (RFC 7591/7592); admins
   * change clients through Latchkey's own domain functions.
   */
  /** Models kept in tables of their own: never looked up by uid or user code, never consumed, not tied to a grant. */
  abstract class RecordAdapter implements Pick<Adapter, 'findByUid' | 'findByUserCode' | 'consume' | 'revokeByGrantId'> {
    async findByUid() {
      return undefined;
    }
    async findByUserCode() {
      return undefined;
    }
    async consume() {}
    async revokeByGrantId() {}
  }

  class ClientAdapter extends RecordAdapter implements Adapter {
    async find(id: string) {
      const client = await deps.catalog.client(id);
      return client ? providerClientMetadata(client) : undefined;
    }
    async upsert(id: string, payload: AdapterPayload) {
      const ctx = currentRequest();
      const metadata = payload as Record<string, unknown>;
      await asOAuthError(async () => {
        if (await findClient(db, id)) {
          await updateDynamicClient(deps, { type: 'client', id, ip: ctx.ip }, id, metadata);
          return;
        }
        const initialAccessToken = ctx.oidc.entities.InitialAccessToken;
        if (!initialAccessToken?.jti) throw new errors.InvalidToken('initial access token not found');
        await registerDynamicClient(deps, { type: 'initial_access_token', id: initialAccessToken.jti, ip: ctx.ip }, metadata);
      });
    }
    async destroy(id: string) {
      const actor: Actor = { type: 'client', id, ip: currentRequest().ip };
      await asOAuthError(() => deleteDynamicClient(deps, actor, id));
    }
  }

  // What every token request writes and reads, gathered across concurrent requests (see
  // createBatcher): under load, one statement and one commit serve many of them.
  const writeRows = createBatcher<{ key: PayloadKey; row: PayloadRow }, void>(async (items) => {
    // Two writes of one row in a batch: the later one is what sequential writes would have left.
    const latest = new Map(items.map((item) => [`${item.key.model}:${item.key.id}`, item]));
    // In key order, so two batches out at once lock shared rows in the same order and cannot deadlock.
    await upsertPayloads(db, [...latest].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, item]) => item));
    return items.map(() => undefined);
  }, DATABASE_BATCHING);
  const readTokens = createBatcher<string, PayloadsById>(async (ids) => {
    const answers = await findPayloadsByIds(db, [...new Set(ids)], [...TOKEN_MODELS], now());
    return ids.map((id) => answers.get(id)!);
  }, DATABASE_BATCHING);
  const consumeRows = createBatcher<PayloadKey, boolean>(async (keys) => {
    const consumed = await consumePayloads(db, keys, now());
    // The statement consumes a row once; of two callers for it in one batch, the first has it.
    const handedOut = new Set<string>();
    return keys.map((key) => {
      const name = `${key.model}:${key.id}`;
      if (!consumed.has(name) || handedOut.has(name)) return false;
      handedOut.add(name);
      return true;
    });
  }, DATABASE_BATCHING);

  /**
   * A token or grant read for the request in progress: a token value is looked up in every
   * token model (introspection and revocation do not know which it is) and then its grant is
   * read, so the first lookup reads all of that in one round trip and the rest are answered
   * from it.
   */
  function readOnce(reads: RequestReads, key: PayloadKey): Promise<StoredPayload | undefined> {
    const { cached } = reads;
    const cacheKey = `${key.model}:${key.id}`;
    const known = cached.get(cacheKey);
    if (known) return known;
    if (key.model === 'Grant') {
      const grant = findPayload(db, key, now());
      cached.set(cacheKey, grant);
      // A failed read (the database away) is not remembered.
      grant.catch(() => cached.delete(cacheKey));
      return grant;
    }
    const writesBefore = reads.writes;
    const settled = readTokens(key.id).then((result) => {
      for (const [grantId, grant] of result.grants) {
        const grantKey = `Grant:${grantId}`;
        if (reads.writes === writesBefore && !cached.has(grantKey)) cached.set(grantKey, Promise.resolve(grant));
      }
      return result;
    });
    for (const model of TOKEN_MODELS) {
      const read = settled.then((result) => result.found.get(model));
      // Only the model asked for is awaited now: the others must not fail unhandled.
      read.catch(() => undefined);
      cached.set(`${model}:${key.id}`, read);
    }
    // A failed read (the database away) is not remembered.
    settled.catch(() => cached.clear());
    return cached.get(cacheKey)!;
  }

  /**
   * Graceful refresh rotation: concurrent tabs and retried requests use one refresh token twice,
   * seconds apart. A refresh token its own client uses again at the token endpoint within the
   * client's grace window (refresh_token_reuse_grace, else LATCHKEY_REFRESH_REUSE_GRACE) reads as
   * not yet used, so the provider rotates it again; after the window the provider sees the
   * reuse and revokes the grant. The client comes from the catalog the provider authenticated it
   * from, so this costs no database read, and only tokens already used ever ask.
   */
  async function reusableWithinGrace(stored: StoredPayload): Promise<boolean> {
    // Only the refresh grant itself: introspection, revocation and other grants see a used token as used.
    const ctx = Provider.ctx;
    if (!stored.consumedAt || ctx?.oidc?.route !== 'token' || ctx.oidc.params?.grant_type !== 'refresh_token') return false;
    const clientId = stored.payload.clientId;
    if (typeof clientId !== 'string') return false;
    const own = (await deps.catalog.client(clientId))?.metadata.refresh_token_reuse_grace;
    const grace = typeof own === 'number' ? own : deps.config.tokens.refreshReuseGrace;
    return grace > 0 && now().getTime() - stored.consumedAt.getTime() <= grace * 1000;
  }

  class PayloadAdapter implements Adapter {
    constructor(private readonly model: string) {}

    private key(id: string): PayloadKey {
      return { model: this.model, id: digest(id) };
    }

    async upsert(id: string, payload: AdapterPayload, expiresIn: number) {
      forgetReads(this.key(id));
      await writeRows({
        key: this.key(id),
        row: {
          payload: storable(deps.sealer, this.model, payload),
          // A grant and its tokens share one key: the digest of the grant id.
          grantId: this.model === 'Grant' ? digest(id) : typeof payload.grantId === 'string' ? digest(payload.grantId) : null,
          userCode: optionalString(payload.userCode),
          uid: optionalString(payload.uid),
          accountId: optionalString(payload.accountId),
          clientId: optionalString(payload.clientId),
          expiresAt: expiresIn ? new Date(now().getTime() + expiresIn * 1000) : null,
        },
      });
    }

    async find(id: string) {
      const key = this.key(id);
      const reads = requestReads();
      let stored: StoredPayload | undefined;
      if (reads && (TOKEN_MODELS.has(key.model) || key.model === 'Grant')) stored = await readOnce(reads, key);
      else if (TOKEN_MODELS.has(key.model)) stored = (await readTokens(key.id)).found.get(key.model);
      // A device polling after its code expired must hear expired_token (RFC 8628 §3.5), so an
      // expired device code is still found (until cleanup removes it); the provider checks expiry.
      else stored = await findPayload(db, key, key.model === 'DeviceCode' ? EVEN_EXPIRED : now());
      if (!stored) return undefined;
      // The row stays as it is: the window counts from the first use, and the reuse reads it again in consume.
      if (key.model === 'RefreshToken' && (await reusableWithinGrace(stored))) return restore(deps.sealer, { ...stored, consumedAt: null }, id);
      return restore(deps.sealer, stored, id);
    }

    // The raw id is not stored, so what comes back has no jti (but a device code's, sealed).
    async findByUid(uid: string) {
      const stored = await findPayloadByUid(db, this.model, uid, now());
      return stored ? restore(deps.sealer, stored, undefined) : undefined;
    }

    // Expired too, so the page can say the code expired rather than that it is wrong.
    async findByUserCode(userCode: string) {
      const stored = await findPayloadByUserCode(db, this.model, userCode, EVEN_EXPIRED);
      return stored ? restore(deps.sealer, stored, undefined) : undefined;
    }

    async consume(id: string) {
      forgetReads(this.key(id));
      // Losing a race to redeem the same code or refresh token is a reuse, not a server error.
      if (!(await consumeRows(this.key(id)))) {
        // Used before (or by a request that won the race just now): within the grace window that is allowed.
        if (this.model === 'RefreshToken') {
          const stored = await findPayload(db, this.key(id), now());
          if (stored && (await reusableWithinGrace(stored))) return;
        }
        throw new errors.InvalidGrant('grant request is invalid: it was already used');
      }
    }

    async destroy(id: string) {
      forgetReads(this.key(id));
      await deletePayload(db, this.key(id));
    }

    async revokeByGrantId(grantId: string) {
      forgetReads();
      await deletePayloadsByGrantId(db, digest(grantId));
    }
  }

  /**
   * Initial access tokens are made by admins in their own table (stored as a SHA-256); the
   * provider only looks them up. The payload's jti is the token's row id, not its value: the
   * provider never uses it, and the registration's audit event names the token by it.
   */
  class InitialAccessTokenAdapter extends RecordAdapter implements Adapter {
    async find(token: string) {
      const row = await findUsableToken(deps, token);
      if (!row) return undefined;
      return {
        jti: row.id,
        kind: 'InitialAccessToken',
        iat: epochSeconds(row.createdAt),
        ...(row.expiresAt ? { exp: epochSeconds(row.expiresAt) } : {}),
        policies: [REGISTRATION_POLICY],
      } as AdapterPayload;
    }
    async upsert() {
      throw new Error('initial access tokens are created by admins, not by the provider');
    }
    async destroy() {
      throw new Error('initial access tokens are revoked by admins, not by the provider');
    }
  }

  // oidc-provider accepts a factory and asks it once per model.
  return (model: string) => {
    if (model === 'Client') return failingFast(new ClientAdapter());
    if (model === 'InitialAccessToken') return failingFast(new InitialAccessTokenAdapter());
    return failingFast(new PayloadAdapter(model));
  };
}

/** Every adapter call reaches the database (or the catalog behind it): an outage answers 503, not 500. */
function failingFast(adapter: Adapter): Adapter {
  return {
    upsert: (id, payload, expiresIn) => orUnavailable(() => adapter.upsert(id, payload, expiresIn)),
    find: (id) => orUnavailable(() => adapter.find(id)),
    findByUserCode: (userCode) => orUnavailable(() => adapter.findByUserCode(userCode)),
    findByUid: (uid) => orUnavailable(() => adapter.findByUid(uid)),
    consume: (id) => orUnavailable(() => adapter.consume(id)),
    destroy: (id) => orUnavailable(() => adapter.destroy(id)),
    revokeByGrantId: (grantId) => orUnavailable(() => adapter.revokeByGrantId(grantId)),
  };
}
