import type { AuditEventType } from '../../domain/audit.js';
import { jsonOption, pageOptions, pageRequest, parse } from '../args.js';
import { pageTable, printResult } from '../output.js';
import { execute } from '../runner.js';
import { dispatch } from '../subcommands.js';

interface AuditEventJson {
  occurred_at: string;
  type: string;
  actor: { type: string; id: string | null };
  subject: { type: string; id: string | null } | null;
  outcome: string;
}

const party = (who: { type: string; id: string | null } | null) => (who ? [who.type, who.id].filter(Boolean).join(':') : null);

export const auditCommand = dispatch('audit', {
  async list(config, argv) {
    const { values } = parse(argv, {
      type: { type: 'string' },
      actor: { type: 'string' },
      subject: { type: 'string' },
      from: { type: 'string' },
      to: { type: 'string' },
      ...pageOptions,
      ...jsonOption,
    });
    const page = await execute(config, 'audit.list', {
      ...pageRequest(values),
      // The domain checks the type and reads the dates.
      type: values.type as AuditEventType | undefined,
      actorId: values.actor,
      subjectId: values.subject,
      from: values.from,
      to: values.to,
    });
    printResult(page, {
      json: values.json ?? false,
      human: pageTable(['occurred_at', 'type', 'actor', 'subject', 'outcome'], (event: AuditEventJson) => ({
        ...event,
        actor: party(event.actor),
        subject: party(event.subject),
      })),
    });
  },
});
