import type { PageRequest } from '../../../domain/pagination.js';
import { factorsOf, resetFactors } from '../../../domain/factors/summary.js';
import { importUsers } from '../../../domain/user-import.js';
import {
  createUser,
  deleteUser,
  disableUser,
  enableUser,
  getUser,
  listUsers,
  setUserPassword,
  updateUser,
  type CreateUserInput,
  type UpdateUserInput,
} from '../../../domain/users.js';
import { factorsResetJson, pageJson, userJson } from '../../shapes.js';
import { createUserBody, idParams, passwordBody, updateUserBody, usersQuery } from '../../schemas.js';
import { defineRoute, domainInput, type Route } from '../route.js';

const tag = 'Users';

// Larger files go through the CLI, which reads up to 50 MB.
const IMPORT_LIMIT_BYTES = 5 * 1024 * 1024;

const importTypes = {
  'application/json': {
    type: 'array',
    items: { type: 'object' },
    description: 'An Auth0 bulk-import file: users with email, email_verified, name, blocked and password_hash (bcrypt) or custom_password_hash (argon2, bcrypt, pbkdf2)',
  },
  'application/x-ndjson': {
    type: 'string',
    description: 'JSON lines, one user a line: {"email", "name", "email_verified", "disabled", "password_hash"}; the hash is argon2, bcrypt or PBKDF2 (SHA-256, SHA-512)',
  },
};

export const userRoutes: Route[] = [
  defineRoute({
    method: 'post',
    path: '/users',
    tag,
    summary: 'Create a user',
    body: createUserBody,
    status: 201,
    response: 'The user',
    handle: async ({ deps, actor, body }) => userJson(await createUser(deps, actor, domainInput<CreateUserInput>(body))),
  }),
  defineRoute({
    method: 'get',
    path: '/users',
    tag,
    summary: 'List users, oldest first',
    query: usersQuery,
    status: 200,
    response: 'A page of users',
    handle: async ({ deps, query }) => pageJson(await listUsers(deps, domainInput<PageRequest & { email?: string }>(query)), userJson),
  }),
  defineRoute({
    method: 'post',
    path: '/users/import',
    tag,
    summary: 'Import users with their password hashes; each hash is replaced by argon2id at first sign-in. Bad records and taken emails are skipped and reported',
    upload: { types: importTypes, limitBytes: IMPORT_LIMIT_BYTES },
    status: 200,
    response: '{ source, imported, skipped: [{ line, email, reason }] }',
    handle: async ({ deps, actor, upload }) =>
      importUsers(deps, actor, upload!.text, { format: upload!.type === 'application/json' ? 'auth0' : 'jsonl' }),
  }),
  defineRoute({
    method: 'get',
    path: '/users/:id',
    tag,
    summary: 'Get a user, with the second factors they have (factors: totp, passkeys, recovery_codes_left)',
    params: idParams,
    status: 200,
    response: 'The user',
    handle: async ({ deps, params }) => {
      const user = await getUser(deps, params.id);
      return userJson(user, await factorsOf(deps, user.id));
    },
  }),
  defineRoute({
    method: 'patch',
    path: '/users/:id',
    tag,
    summary: 'Change a user: name, email, email_verified, is_admin',
    params: idParams,
    body: updateUserBody,
    status: 200,
    response: 'The changed user',
    handle: async ({ deps, actor, params, body }) => userJson(await updateUser(deps, actor, params.id, domainInput<UpdateUserInput>(body))),
  }),
  defineRoute({
    method: 'put',
    path: '/users/:id/password',
    tag,
    summary: "Set a user's password; their sessions and refresh tokens end",
    params: idParams,
    body: passwordBody,
    status: 200,
    response: 'The user',
    handle: async ({ deps, actor, params, body }) => userJson(await setUserPassword(deps, actor, params.id, domainInput<{ password: string }>(body))),
  }),
  defineRoute({
    method: 'post',
    path: '/users/:id/disable',
    tag,
    summary: 'Disable a user; their sessions, grants and tokens end',
    params: idParams,
    status: 200,
    response: 'The disabled user',
    handle: async ({ deps, actor, params }) => userJson(await disableUser(deps, actor, params.id)),
  }),
  defineRoute({
    method: 'post',
    path: '/users/:id/enable',
    tag,
    summary: 'Enable a disabled user',
    params: idParams,
    status: 200,
    response: 'The enabled user',
    handle: async ({ deps, actor, params }) => userJson(await enableUser(deps, actor, params.id)),
  }),
  defineRoute({
    method: 'delete',
    path: '/users/:id/factors',
    tag,
    summary: "Reset a user's second factors (a lost phone or key): the authenticator app, passkeys and recovery codes go; the password and sessions stay",
    params: idParams,
    status: 200,
    response: '{ user_id, removed: { totp, passkeys, recovery_codes } }',
    handle: async ({ deps, actor, params }) => factorsResetJson(params.id, await resetFactors(deps, actor, params.id)),
  }),
  defineRoute({
    method: 'delete',
    path: '/users/:id',
    tag,
    summary: 'Delete a user with their grants and tokens',
    params: idParams,
    status: 204,
    response: 'Deleted',
    handle: async ({ deps, actor, params }) => deleteUser(deps, actor, params.id),
  }),
];
