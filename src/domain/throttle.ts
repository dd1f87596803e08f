import type { Deps } from '../deps.js';
import { LatchkeyError } from '../errors.js';
import { blockUntil, clearThrottle, countFailure, findThrottles } from '../store/throttles.js';
import { now } from '../util/clock.js';
import { sha256 } from '../util/digest.js';

/** The first wait once the failures allowed are used up; it doubles with each further failure. */
const FIRST_DELAY_SECONDS = 30;

/** What is counted: an address (whether or not an account has it), a network address, a client. */
export interface ThrottleKey {
  readonly key: string;
  /** Failures allowed in a window before each further one imposes a wait. */
  readonly allowed: number;
}

/** Lowercased and trimmed: `Ann@Example.com ` and `ann@example.com` are one target. */
export function normaliseEmail(email: string): string {
  return email.normalize('NFKC').trim().toLowerCase();
}

/**
 * Keys for a form that takes an email address: the address (as a digest, so the table holds no
 * addresses) and the client's IP with a looser limit, so one attacker cannot try many accounts.
 */
export function emailThrottle(deps: Deps, action: string, email: string, ip: string): ThrottleKey[] {
  const { failures, ipFailures } = deps.config.throttle;
  return [
    { key: `${action}:email:${sha256(normaliseEmail(email))}`, allowed: failures },
    { key: `${action}:ip:${ip}`, allowed: ipFailures },
  ];
}

/**
 * Second-factor codes (authenticator app, recovery codes) for one account: counted against the
 * account, since the password is already known, and against the network address.
 */
export function secondFactorThrottle(deps: Deps, userId: string, ip: string): ThrottleKey[] {
  const { failures, ipFailures } = deps.config.throttle;
  return [
    { key: `second-factor:user:${userId}`, allowed: failures },
    { key: `second-factor:ip:${ip}`, allowed: ipFailures },
  ];
}

/** Failed client authentication at the token, introspection and revocation endpoints. */
export function clientThrottle(deps: Deps, clientId: string, ip: string): ThrottleKey[] {
  const { failures, ipFailures } = deps.config.throttle;
  return [
    { key: `client:id:${sha256(clientId)}`, allowed: failures },
    { key: `client:ip:${ip}`, allowed: ipFailures },
  ];
}

function throttled(seconds: number): LatchkeyError {
  const wait = Math.max(1, Math.ceil(seconds));
  return new LatchkeyError('auth.throttled', `Too many attempts. Try again in ${wait} second${wait === 1 ? '' : 's'}.`, { retryAfter: wait });
}

/** What a check found, so a success clears only what is there: most sign-ins have nothing to clear. */
export interface ThrottleStanding {
  readonly keys: ThrottleKey[];
  readonly targetHasFailures: boolean;
}

/** Throws `auth.throttled` while any of the keys is waiting out a delay. */
export async function assertNotThrottled(deps: Deps, keys: ThrottleKey[]): Promise<ThrottleStanding> {
  const at = now();
  const rows = await findThrottles(
    deps.db.knex,
    keys.map((entry) => entry.key),
    at,
  );
  const until = Math.max(0, ...rows.map((row) => row.blockedUntil?.getTime() ?? 0));
  if (until > at.getTime()) throw throttled((until - at.getTime()) / 1000);
  return { keys, targetHasFailures: rows.some((row) => row.key === keys[0]?.key) };
}

/**
 * Counts a failure against every key. Past the allowed number, each failure imposes a wait that
 * doubles, capped at the configured maximum so an attacker cannot lock a real user out for long.
 * Returns the wait the first key (the target) now imposes, in seconds, if any.
 */
export async function recordFailure(deps: Deps, keys: ThrottleKey[]): Promise<number | undefined> {
  const at = now();
  let targetWait: number | undefined;
  for (const [index, entry] of keys.entries()) {
    const failures = await countFailure(deps.db.knex, entry.key, at, deps.config.throttle.window);
    const delay = await delayAfter(deps, entry, failures, at);
    if (index === 0) targetWait = delay;
  }
  return targetWait;
}

/** The wait `failures` failures impose on a key, once the allowed number is used up; the key is blocked for it. */
async function delayAfter(deps: Deps, entry: ThrottleKey, failures: number, at: Date): Promise<number | undefined> {
  const { window, maxDelay } = deps.config.throttle;
  if (failures < entry.allowed) return undefined;
  const delay = Math.min(maxDelay, FIRST_DELAY_SECONDS * 2 ** Math.min(failures - entry.allowed, 20));
  const until = new Date(at.getTime() + delay * 1000);
  await blockUntil(deps.db.knex, entry.key, until, new Date(until.getTime() + window * 1000));
  return delay;
}

/** An attempt counted against its target before it is checked (reserveAttempt). */
export interface Reservation extends ThrottleStanding {
  readonly targetFailures: number;
}

/**
 * For guesses at a small space (six-digit codes): the attempt counts against the target before
 * it is checked, so a burst of parallel guesses cannot all pass the check before any is counted.
 * One past the allowed number is refused unchecked. A success takes the count back
 * (clearFailures); a failure goes on to attemptFailed.
 */
export async function reserveAttempt(deps: Deps, keys: ThrottleKey[]): Promise<Reservation> {
  await assertNotThrottled(deps, keys);
  const [target] = keys;
  if (!target) throw new RangeError('a throttle needs a target key');
  const at = now();
  const failures = await countFailure(deps.db.knex, target.key, at, deps.config.throttle.window);
  if (failures > target.allowed) throw throttled((await delayAfter(deps, target, failures, at))!);
  return { keys, targetHasFailures: true, targetFailures: failures };
}

/** A reserved attempt failed: the target's wait, if its count calls for one, and the network's count. */
export async function attemptFailed(deps: Deps, reservation: Reservation): Promise<number | undefined> {
  const [target, ...others] = reservation.keys;
  const at = now();
  const wait = await delayAfter(deps, target!, reservation.targetFailures, at);
  await recordFailure(deps, others);
  return wait;
}

/** A success forgets the failures of its own target (the address), not those of the network. */
export async function clearFailures(deps: Deps, standing: ThrottleStanding): Promise<void> {
  const [target] = standing.keys;
  if (target && standing.targetHasFailures) await clearThrottle(deps.db.knex, target.key);
}
