import type { Adapter, AdapterPayload } from 'oidc-provider';

interface Entry {
  payload: AdapterPayload;
  expiresAt: number;
}

/**
 * Entries kept, oldest dropped first: room for every token a refresh run pre-mints (and what
 * it issues), while a long client-credentials run does not grow the heap (and the GC's work)
 * without end, as a database keeps Latchkey's rows off its heap.
 */
const CAPACITY = 100_000;

/**
 * oidc-provider's own in-memory adapter, with a larger cap: that one is an LRU of 1,000 entries,
 * and a refresh run pre-mints thousands of grants and tokens, which it would evict before
 * use. The same work per call otherwise: a map lookup or write, and a per-grant index so a
 * reused refresh token can revoke its grant.
 */
export function createMemoryAdapterFactory(): (model: string) => Adapter {
  const entries = new Map<string, Entry>();
  const byGrant = new Map<string, Set<string>>();
  const byUid = new Map<string, string>();
  const byUserCode = new Map<string, string>();

  const live = (key: string | undefined): AdapterPayload | undefined => {
    const entry = key === undefined ? undefined : entries.get(key);
    if (!entry) return undefined;
    if (entry.expiresAt <= Date.now()) {
      entries.delete(key!);
      return undefined;
    }
    return entry.payload;
  };

  return (model) => {
    const keyOf = (id: string) => `${model}:${id}`;
    return {
      async upsert(id, payload, expiresIn) {
        const key = keyOf(id);
        entries.set(key, { payload, expiresAt: expiresIn ? Date.now() + expiresIn * 1000 : Infinity });
        if (entries.size > CAPACITY) entries.delete(entries.keys().next().value!);
        if (payload.grantId) {
          const members = byGrant.get(payload.grantId) ?? new Set<string>();
          byGrant.set(payload.grantId, members.add(key));
        }
        if (payload.uid) byUid.set(payload.uid, key);
        if (payload.userCode) byUserCode.set(payload.userCode, key);
      },
      find: async (id) => live(keyOf(id)),
      findByUid: async (uid) => live(byUid.get(uid)),
      findByUserCode: async (userCode) => live(byUserCode.get(userCode)),
      async consume(id) {
        const payload = live(keyOf(id));
        if (payload) payload.consumed = Math.floor(Date.now() / 1000);
      },
      async destroy(id) {
        entries.delete(keyOf(id));
      },
      async revokeByGrantId(grantId) {
        for (const key of byGrant.get(grantId) ?? []) entries.delete(key);
        byGrant.delete(grantId);
      },
    };
  };
}
