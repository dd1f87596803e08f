import type { Config } from '../config.js';

/** The scope of Latchkey's own admin API. */
export const ADMIN_SCOPE = 'latchkey:admin';

/**
 * The admin API is a resource server of Latchkey itself. Its identifier follows the issuer,
 * so it is not a row admins could change or delete, and it never needs migrating.
 */
export function adminResourceIdentifier(config: Pick<Config, 'http'>): string {
  return `${config.http.issuer}/admin/api`;
}
