import type { Router } from '@koa/router';
import { AUDIT_EVENT_TYPES, listAuditEvents, type AuditEventType } from '../../domain/audit.js';
import { optional } from '../../http/forms.js';
import type { ConsoleKit } from './kit.js';

export function auditRoutes(router: Router, kit: ConsoleKit): void {
  const { deps, guard } = kit;
  router.get('/audit', ...guard, async (ctx) => {
    const type = optional(ctx.query, 'type');
    // An unknown type is refused by the domain, which names the field.
    const page = await listAuditEvents(deps, { type: type as AuditEventType | undefined, cursor: optional(ctx.query, 'cursor'), limit: 50 });
    await kit.page(ctx, 'audit', 'list', 'admin.audit.title', { page, type: type ?? '', types: AUDIT_EVENT_TYPES });
  });
}
