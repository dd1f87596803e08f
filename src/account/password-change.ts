import type { Deps } from '../deps.js';
import { authenticate } from '../domain/accounts.js';
import type { Actor } from '../domain/audit.js';
import { recordPasswordChangeLockout } from '../domain/sign-in-events.js';
import { passwordProblem } from '../domain/password-policy.js';
import { assertNotThrottled, clearFailures, emailThrottle, recordFailure } from '../domain/throttle.js';
import { setUserPassword } from '../domain/users.js';
import { LatchkeyError, type ErrorDetails } from '../errors.js';
import type { UserRow } from '../store/users.js';

export interface PasswordChange {
  currentPassword: string;
  password: string;
  confirmation: string;
}

function refused(details: ErrorDetails): LatchkeyError {
  return new LatchkeyError('input.invalid', 'Your password was not changed. Correct the fields marked below.', { details });
}

/** Checked as signing in checks it: the same argon2 cost whatever the answer. */
async function isCurrentPassword(deps: Deps, user: UserRow, password: string): Promise<boolean> {
  try {
    await authenticate(deps, { email: user.email, password });
    return true;
  } catch (error) {
    if (!(error instanceof LatchkeyError)) throw error;
    if (error.code === 'auth.invalid_credentials') return false;
    // The right password for an address an admin has since marked unconfirmed is still the right password.
    if (error.code === 'auth.email_unverified') return true;
    throw error;
  }
}

/**
 * The signed-in user changes their own password. The current one is asked for again, so an
 * unattended session cannot take the account over, and the guesses count towards the same kind
 * of throttle as signing in. The new password ends every other session and every refresh token;
 * `keepSessionUid`, the session the user acts from, stays signed in.
 */
export async function changeOwnPassword(deps: Deps, actor: Actor & { ip: string }, user: UserRow, change: PasswordChange, keepSessionUid: string | undefined): Promise<void> {
  // The cheap checks first: a typo in the new password costs no hashing and no throttle.
  const details: ErrorDetails = {};
  const problem = passwordProblem(change.password, { minLength: deps.config.accounts.passwordMinLength, email: user.email });
  if (problem) details.password = problem;
  if (change.confirmation !== change.password) details.confirmation = 'does not match the new password';
  if (change.currentPassword === '') details.currentPassword = 'is required';
  if (Object.keys(details).length > 0) throw refused(details);

  const throttle = emailThrottle(deps, 'password-change', user.email, actor.ip);
  const standing = await assertNotThrottled(deps, throttle);
  if (!(await isCurrentPassword(deps, user, change.currentPassword))) {
    const wait = await recordFailure(deps, throttle);
    if (wait !== undefined) {
      await recordPasswordChangeLockout(deps, actor, user, wait);
    }
    throw refused({ currentPassword: 'is not correct' });
  }
  await clearFailures(deps, standing);
  await setUserPassword(deps, actor, user.id, { password: change.password }, { keepSessionUid, reason: 'change' });
}
