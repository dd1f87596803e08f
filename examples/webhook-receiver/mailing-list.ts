import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';

/** A Latchkey event, as the body of a webhook request carries it (see docs/events.md). */
export interface LatchkeyEvent {
  id: string;
  type: string;
  /** When the change happened (ISO 8601). */
  timestamp: string;
  data: Record<string, unknown>;
}

/** One person on the list. */
export interface Subscriber {
  user_id: string;
  email: string;
  name: string | null;
  /** When this receiver put them on the list. */
  subscribed_at: string;
  /** The `timestamp` of the event the entry is from: an older event does not overwrite it. */
  as_of: string;
}

/** The whole file. Only `subscribers` is the list; the rest is the receiver's bookkeeping. */
export interface MailingListFile {
  subscribers: Subscriber[];
  /** webhook-id of each event already applied, with when: a second delivery of one is skipped. */
  processed: Record<string, string>;
  /** Users deleted, with the deletion's timestamp: a late event about them does not add them back. */
  deleted_users: Record<string, string>;
}

/** What applying one event did, for the log. */
export type Outcome =
  | { kind: 'duplicate' }
  | { kind: 'ignored'; reason: string }
  | { kind: 'subscribed' | 'updated' | 'unsubscribed'; email: string };

/** The event types this integration acts on; the webhook subscribes to these. */
export const HANDLED_EVENT_TYPES = ['user.created', 'user.email_verified', 'user.deleted'] as const;

/**
 * How long a processed webhook-id (and a deleted user) is remembered. Latchkey keeps an event,
 * and so can send it again (retry or redelivery), for LATCHKEY_WEBHOOK_RETENTION (30d by
 * default) after it happened; keep this at least as long.
 */
const REMEMBER_MS = 31 * 86_400_000;

/** A user as events carry them (`data.user`); only what the list needs. */
interface EventUser {
  id: string;
  email: string;
  email_verified: boolean;
  name: string | null;
}

/** A verified event whose body is not what docs/events.md describes. */
export class MalformedEvent extends Error {}

function eventUser(event: LatchkeyEvent): EventUser {
  const user = event.data.user as Partial<EventUser> | undefined;
  if (
    typeof user !== 'object' ||
    user === null ||
    typeof user.id !== 'string' ||
    typeof user.email !== 'string' ||
    typeof user.email_verified !== 'boolean' ||
    (user.name !== null && typeof user.name !== 'string')
  ) {
    throw new MalformedEvent(`${event.type} ${event.id} has no data.user with id, email, email_verified and name`);
  }
  return { id: user.id, email: user.email, email_verified: user.email_verified, name: user.name ?? null };
}

function emptyList(): MailingListFile {
  return { subscribers: [], processed: {}, deleted_users: {} };
}

async function readList(file: string): Promise<MailingListFile> {
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return emptyList();
    throw error;
  }
  let parsed: Partial<MailingListFile>;
  try {
    parsed = JSON.parse(text) as Partial<MailingListFile>;
  } catch (error) {
    throw new Error(`${file} is not JSON: ${(error as Error).message}`, { cause: error });
  }
  if (!Array.isArray(parsed.subscribers)) throw new Error(`${file} is not a mailing list this receiver wrote (no "subscribers" list)`);
  return { subscribers: parsed.subscribers, processed: parsed.processed ?? {}, deleted_users: parsed.deleted_users ?? {} };
}

/**
 * Replaces the file atomically: the new contents go to a temporary file in the same directory,
 * are flushed to disk, and the temporary file is renamed over the old one. Whoever reads the
 * file, and whatever crashes when, sees the old list or the new one, never half of one.
 */
async function writeAtomically(file: string, contents: string): Promise<void> {
  const temporary = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
  // 0600: the list holds people's email addresses.
  const handle = await fs.open(temporary, 'wx', 0o600);
  try {
    await handle.writeFile(contents, 'utf8');
    await handle.sync();
  } finally {
    await handle.close();
  }
  try {
    await fs.rename(temporary, file);
  } catch (error) {
    await fs.rm(temporary, { force: true });
    throw error;
  }
}

function forget(entries: Record<string, string>, before: number): Record<string, string> {
  return Object.fromEntries(Object.entries(entries).filter(([, at]) => Date.parse(at) >= before));
}

/**
 * The mailing list, kept in a JSON file that this process alone writes. Events are applied one
 * at a time (requests arrive concurrently: Latchkey sends several deliveries at once), and each
 * is written to the file before its request is answered, so an event is acknowledged only once
 * it is safe; a write that fails answers 500 and Latchkey retries.
 */
export class MailingList {
  private queue: Promise<unknown> = Promise.resolve();

  private constructor(
    readonly file: string,
    private state: MailingListFile,
  ) {}

  /** Opens the list, creating the file (and its directory) when it does not exist yet. */
  static async open(file: string): Promise<MailingList> {
    const absolute = path.resolve(file);
    await fs.mkdir(path.dirname(absolute), { recursive: true });
    const list = new MailingList(absolute, await readList(absolute));
    // Written at once, so a file that cannot be written stops the receiver now, not at the first event.
    await list.save(list.state);
    return list;
  }

  subscribers(): readonly Subscriber[] {
    return this.state.subscribers;
  }

  /** Applies an event once: a webhook-id seen before changes nothing. */
  apply(webhookId: string, event: LatchkeyEvent): Promise<Outcome> {
    const run = this.queue.then(() => this.applyNow(webhookId, event));
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async applyNow(webhookId: string, event: LatchkeyEvent): Promise<Outcome> {
    if (!(HANDLED_EVENT_TYPES as readonly string[]).includes(event.type)) return { kind: 'ignored', reason: `${event.type} is not an event this list acts on` };
    if (Object.hasOwn(this.state.processed, webhookId)) return { kind: 'duplicate' };
    const receivedAt = new Date();
    const next: MailingListFile = {
      subscribers: [...this.state.subscribers],
      processed: { ...forget(this.state.processed, receivedAt.getTime() - REMEMBER_MS), [webhookId]: receivedAt.toISOString() },
      deleted_users: forget(this.state.deleted_users, receivedAt.getTime() - REMEMBER_MS),
    };
    const outcome = change(next, event, receivedAt);
    // Nothing changes in memory unless the file was written: a failed write leaves the event
    // unprocessed, to be applied when Latchkey retries it.
    await this.save(next);
    this.state = next;
    return outcome;
  }

  private async save(state: MailingListFile): Promise<void> {
    await writeAtomically(this.file, `${JSON.stringify(state, null, 2)}\n`);
  }
}

/**
 * The integration: a user joins the list once their address is verified, by proving it
 * (`user.email_verified`) or by being created verified (`user.created` by an admin or an
 * import), and leaves it when deleted. Events are not ordered, so each entry remembers the time
 * of the event it came from, and deleted users are remembered too.
 */
function change(list: MailingListFile, event: LatchkeyEvent, receivedAt: Date): Outcome {
  const at = Date.parse(event.timestamp);
  if (Number.isNaN(at)) throw new MalformedEvent(`${event.type} ${event.id} has no valid timestamp`);
  switch (event.type) {
    case 'user.created':
    case 'user.email_verified': {
      const user = eventUser(event);
      if (!user.email_verified) return { kind: 'ignored', reason: `${user.email} is not verified yet` };
      if (Object.hasOwn(list.deleted_users, user.id)) return { kind: 'ignored', reason: `user ${user.id} was deleted` };
      const index = list.subscribers.findIndex((subscriber) => subscriber.user_id === user.id);
      const current = list.subscribers[index];
      if (current && Date.parse(current.as_of) > at) return { kind: 'ignored', reason: `${current.email} is from a newer event` };
      const entry: Subscriber = {
        user_id: user.id,
        email: user.email,
        name: user.name,
        subscribed_at: current?.subscribed_at ?? receivedAt.toISOString(),
        as_of: event.timestamp,
      };
      if (current) list.subscribers[index] = entry;
      else list.subscribers.push(entry);
      return { kind: current ? 'updated' : 'subscribed', email: user.email };
    }
    case 'user.deleted': {
      const user = eventUser(event);
      list.deleted_users[user.id] = event.timestamp;
      const index = list.subscribers.findIndex((subscriber) => subscriber.user_id === user.id);
      if (index === -1) return { kind: 'ignored', reason: `${user.email} was not on the list` };
      list.subscribers.splice(index, 1);
      return { kind: 'unsubscribed', email: user.email };
    }
    default:
      return { kind: 'ignored', reason: `${event.type} is not an event this list acts on` };
  }
}
