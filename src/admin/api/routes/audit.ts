import { listAuditEvents, type AuditQuery } from '../../../domain/audit.js';
import { auditEventJson, pageJson } from '../../shapes.js';
import { auditQuery } from '../../schemas.js';
import { defineRoute, domainInput, type Route } from '../route.js';

export const auditRoutes: Route[] = [
  defineRoute({
    method: 'get',
    path: '/audit-events',
    tag: 'Audit',
    summary: 'List audit events, newest first',
    query: auditQuery,
    status: 200,
    response: 'A page of audit events',
    handle: async ({ deps, query }) => pageJson(await listAuditEvents(deps, domainInput<AuditQuery>(query)), auditEventJson),
  }),
];
