import type { Route } from '../route.js';
import { auditRoutes } from './audit.js';
import { clientRoutes } from './clients.js';
import { grantRoutes } from './grants.js';
import { initialAccessTokenRoutes } from './initial-access-tokens.js';
import { keyRoutes } from './keys.js';
import { resourceRoutes } from './resources.js';
import { tokenExchangePolicyRoutes } from './token-exchange-policies.js';
import { upstreamProviderRoutes } from './upstream-providers.js';
import { userRoutes } from './users.js';
import { webhookRoutes } from './webhooks.js';

/** Every operation of the admin API but the document describing them. */
export const operationRoutes: Route[] = [
  ...clientRoutes,
  ...userRoutes,
  ...grantRoutes,
  ...resourceRoutes,
  ...tokenExchangePolicyRoutes,
  ...upstreamProviderRoutes,
  ...initialAccessTokenRoutes,
  ...keyRoutes,
  ...webhookRoutes,
  ...auditRoutes,
];
