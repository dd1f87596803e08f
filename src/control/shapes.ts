import type { ClientRow } from '../store/clients.js';
import type { ResourceRow } from '../store/resources.js';
import type { UserRow } from '../store/users.js';

// The public JSON shapes (snake_case, like OAuth metadata). Never a hash or a secret.

export function userJson(user: UserRow) {
  return {
    id: user.id,
    email: user.email,
    email_verified: user.emailVerified,
    name: user.name,
    disabled: user.disabled,
    created_at: user.createdAt.toISOString(),
    updated_at: user.updatedAt.toISOString(),
  };
}

export function clientJson(client: ClientRow) {
  return {
    client_id: client.clientId,
    client_name: client.name,
    ...client.metadata,
    resources: client.resources.map((entry) => ({ identifier: entry.identifier, scope: entry.scopes.join(' ') })),
    created_at: client.createdAt.toISOString(),
  };
}

export function resourceJson(resource: ResourceRow) {
  return {
    identifier: resource.identifier,
    scope: resource.scopes.join(' '),
    access_token_format: resource.accessTokenFormat,
    access_token_ttl: resource.accessTokenTtl,
    introspection_client_id: resource.introspectionClientId,
    created_at: resource.createdAt.toISOString(),
  };
}
