import { listKeys, rotateKeys, type RotateKeysInput } from '../../../domain/keys.js';
import { keyJson, pageJson } from '../../shapes.js';
import { rotateKeysBody } from '../../schemas.js';
import { defineRoute, domainInput, type Route } from '../route.js';

const tag = 'Signing keys';

export const keyRoutes: Route[] = [
  defineRoute({
    method: 'get',
    path: '/keys',
    tag,
    summary: 'List signing keys with their states (pending, active, retiring, retired) and ages',
    status: 200,
    // A handful of keys per rotation, so the list is short: always one page.
    response: 'Every signing key, the most recently activating first, as one page (next_cursor is null)',
    handle: async ({ deps }) => pageJson({ items: await listKeys(deps), nextCursor: null }, keyJson),
  }),
  defineRoute({
    method: 'post',
    path: '/keys/rotate',
    tag,
    summary: 'Rotate signing keys: new keys are published at once and sign after the activation delay',
    body: rotateKeysBody,
    status: 201,
    response: 'The new keys (rotated); the keys they replace stay published until every token they signed has expired',
    handle: async ({ deps, actor, body }) => ({ rotated: (await rotateKeys(deps, actor, domainInput<RotateKeysInput>(body))).map(keyJson) }),
  }),
];
