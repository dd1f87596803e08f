import { EVENT_TYPES, isEventType } from '../../domain/events/catalog.js';
import { eventDataSchema, renderEventCatalog } from '../../domain/events/document.js';
import { parse, parseWithId } from '../args.js';
import { UsageError } from '../output.js';
import { dispatch } from '../subcommands.js';

// Both print documents from the code alone: no database, and nothing on stdout but the document,
// since `npm run docs:events` redirects it into docs/events.md.
export const eventsCommand = dispatch('events', {
  async catalog(_config, argv) {
    parse(argv, {});
    process.stdout.write(renderEventCatalog());
  },
  async schema(_config, argv) {
    const { id: type } = parseWithId(argv, {}, 'event type');
    if (!isEventType(type)) throw new UsageError(`"${type}" is not an event type; the types are ${EVENT_TYPES.join(', ')}`);
    process.stdout.write(`${JSON.stringify(eventDataSchema(type), null, 2)}\n`);
  },
});
