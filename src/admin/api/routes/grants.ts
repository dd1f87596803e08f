import { listUserGrants, revokeGrant } from '../../../domain/grants.js';
import { grantJson, pageJson } from '../../shapes.js';
import { grantParams, idParams } from '../../schemas.js';
import { defineRoute, type Route } from '../route.js';

const tag = 'Grants';

export const grantRoutes: Route[] = [
  defineRoute({
    method: 'get',
    path: '/users/:id/grants',
    tag,
    summary: "List a user's live grants (one per application)",
    params: idParams,
    status: 200,
    // A user holds one grant per application, so the list is short: always one page.
    response: 'Every live grant of the user, as one page (next_cursor is null)',
    handle: async ({ deps, params }) => pageJson({ items: await listUserGrants(deps, params.id), nextCursor: null }, grantJson),
  }),
  defineRoute({
    method: 'delete',
    path: '/grants/:grant_id',
    tag,
    summary: 'Revoke a grant with every token issued under it',
    params: grantParams,
    status: 204,
    response: 'Revoked',
    handle: async ({ deps, actor, params }) => {
      await revokeGrant(deps, actor, params.grant_id);
    },
  }),
];
