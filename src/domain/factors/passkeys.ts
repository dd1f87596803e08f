import { randomUUID } from 'node:crypto';
import {
  generateAuthenticationOptions,
  generateRegistrationOptions,
  verifyAuthenticationResponse,
  verifyRegistrationResponse,
  type AuthenticationResponseJSON,
  type PublicKeyCredentialCreationOptionsJSON,
  type PublicKeyCredentialRequestOptionsJSON,
  type RegistrationResponseJSON,
} from '@simplewebauthn/server';
import { z } from 'zod';
import type { Deps } from '../../deps.js';
import { LatchkeyError } from '../../errors.js';
import { deleteUserPasskey, findPasskeyByCredentialId, insertPasskey, listUserPasskeys, recordPasskeyUse, type PasskeyRow } from '../../store/passkeys.js';
import type { UserRow } from '../../store/users.js';
import { insertChallenge, takeChallenge, type ChallengeBinding } from '../../store/webauthn-challenges.js';
import { now } from '../../util/clock.js';
import { guardLastWayIn } from '../identities.js';
import { recordAudit, type Actor } from '../audit.js';
import { ensureRecoveryCodes } from './recovery-codes.js';
import { dropRecoveryCodesWithoutFactor } from './summary.js';

export type { PasskeyRow };

/** How long a ceremony may take: the browser's prompt and the challenge stored for it. */
const CEREMONY_SECONDS = 300;

const PASSKEY_NAME_MAX = 60;

/** The relying party is this server: its issuer's host (browsers refuse IP addresses) and origin. */
function relyingParty(deps: Deps): { rpID: string; origin: string; rpName: string } {
  const issuer = new URL(deps.config.http.issuer);
  return { rpID: issuer.hostname, origin: issuer.origin, rpName: deps.config.theme.name };
}

/**
 * The user handle an authenticator keeps with a discoverable credential and returns on sign-in:
 * the user's id, so a passkey names its account even before the server looks it up.
 */
function userHandleOf(userId: string): Uint8Array<ArrayBuffer> {
  return new TextEncoder().encode(userId);
}

/** RFC 8176: a synced passkey is a key held in software; one bound to its device, hardware. */
export function amrOf(passkey: Pick<PasskeyRow, 'deviceType'>): 'hwk' | 'swk' {
  return passkey.deviceType === 'multiDevice' ? 'swk' : 'hwk';
}

const refused = () => new LatchkeyError('input.invalid', 'The passkey could not be added. Try again.');
const notAccepted = () => new LatchkeyError('auth.invalid_credentials', 'That passkey was not accepted. Try again or use another way.');

const base64url = z.string().min(1).max(16_384).regex(/^[\w-]+=*$/);
const registrationSchema = z.object({
  id: base64url,
  rawId: base64url,
  type: z.literal('public-key'),
  response: z.object({ clientDataJSON: base64url, attestationObject: base64url, transports: z.array(z.string().max(32)).max(10).optional() }).passthrough(),
  clientExtensionResults: z.record(z.string(), z.unknown()).catch({}),
  authenticatorAttachment: z.enum(['platform', 'cross-platform']).optional().catch(undefined),
});
const authenticationSchema = z.object({
  id: base64url,
  rawId: base64url,
  type: z.literal('public-key'),
  response: z.object({ clientDataJSON: base64url, authenticatorData: base64url, signature: base64url, userHandle: base64url.optional() }),
  clientExtensionResults: z.record(z.string(), z.unknown()).catch({}),
  authenticatorAttachment: z.enum(['platform', 'cross-platform']).optional().catch(undefined),
});

/** The browser's answer, as the form's hidden field carried it (JSON); undefined when it is not one. */
function parseCredential<T>(schema: z.ZodType<T>, submitted: string): T | undefined {
  let json: unknown;
  try {
    json = JSON.parse(submitted);
  } catch {
    return undefined;
  }
  const parsed = schema.safeParse(json);
  return parsed.success ? parsed.data : undefined;
}

/** The challenge the browser signed, read from its client data (checked again by the library). */
function challengeIn(clientDataJSON: string): string | undefined {
  try {
    const challenge = (JSON.parse(Buffer.from(clientDataJSON, 'base64url').toString('utf8')) as { challenge?: unknown }).challenge;
    return typeof challenge === 'string' ? challenge : undefined;
  } catch {
    return undefined;
  }
}

async function storeChallenge(deps: Deps, challenge: string, binding: ChallengeBinding): Promise<void> {
  await insertChallenge(deps.db.knex, challenge, binding, new Date(now().getTime() + CEREMONY_SECONDS * 1000));
}

export async function listPasskeys(deps: Deps, userId: string): Promise<PasskeyRow[]> {
  return listUserPasskeys(deps.db.knex, userId);
}

/** Where a new passkey is being added: the account page, or a sign-in that needs a second step. */
export type RegistrationContext = { purpose: 'register'; boundTo: null } | { purpose: 'enrol'; boundTo: string };

/**
 * Options for navigator.credentials.create: a discoverable credential (so it can sign in on its
 * own), no attestation (we trust the user's choice of authenticator, not its maker), and none of
 * the user's existing passkeys again.
 */
export async function registrationOptions(deps: Deps, user: Pick<UserRow, 'id' | 'email' | 'name'>, context: RegistrationContext): Promise<PublicKeyCredentialCreationOptionsJSON> {
  const { rpID, rpName } = relyingParty(deps);
  const existing = await listUserPasskeys(deps.db.knex, user.id);
  const options = await generateRegistrationOptions({
    rpName,
    rpID,
    userName: user.email,
    userDisplayName: user.name || user.email,
    userID: userHandleOf(user.id),
    attestationType: 'none',
    timeout: CEREMONY_SECONDS * 1000,
    excludeCredentials: existing.map((passkey) => ({ id: passkey.credentialId, transports: passkey.transports })),
    authenticatorSelection: { residentKey: 'required', requireResidentKey: true, userVerification: 'preferred' },
  });
  await storeChallenge(deps, options.challenge, { purpose: context.purpose, userId: user.id, boundTo: context.boundTo });
  return options;
}

/**
 * Checks the browser's answer to registrationOptions and keeps the passkey. `name` is what the
 * user typed; without one, `defaultName` names it by its number. Returns the recovery codes to
 * show once when this is the user's first factor.
 */
export async function addPasskey(
  deps: Deps,
  actor: Actor,
  userId: string,
  input: { credential: string; name: string; defaultName: (number: number) => string },
  context: RegistrationContext,
): Promise<{ passkey: PasskeyRow; recoveryCodes: string[] | undefined }> {
  const name = input.name.trim();
  const problem = name.length > PASSKEY_NAME_MAX ? 'is too long' : /[\u0000-\u001f\u007f]/.test(name) ? 'must not contain control characters' : undefined;
  if (problem) throw new LatchkeyError('input.invalid', `name: ${problem}`, { details: { name: problem } });
  const response = parseCredential<RegistrationResponseJSON>(registrationSchema as z.ZodType<RegistrationResponseJSON>, input.credential);
  const challenge = response && challengeIn(response.response.clientDataJSON);
  if (!response || !challenge) throw refused();
  // Taken out first: whatever the outcome, this answer is the challenge's only one.
  if (!(await takeChallenge(deps.db.knex, challenge, { purpose: context.purpose, userId, boundTo: context.boundTo }))) throw refused();
  const { rpID, origin } = relyingParty(deps);
  let verification;
  try {
    verification = await verifyRegistrationResponse({ response, expectedChallenge: challenge, expectedOrigin: origin, expectedRPID: rpID, requireUserVerification: false });
  } catch (error) {
    throw new LatchkeyError('input.invalid', refused().message, { cause: error });
  }
  if (!verification.verified) throw refused();
  const { credential, credentialDeviceType, credentialBackedUp } = verification.registrationInfo;
  return deps.db.knex.transaction(async (trx) => {
    const count = (await listUserPasskeys(trx, userId)).length;
    const passkey = await insertPasskey(trx, {
      id: randomUUID(),
      userId,
      credentialId: credential.id,
      publicKey: Buffer.from(credential.publicKey).toString('base64url'),
      counter: credential.counter,
      transports: credential.transports ?? [],
      deviceType: credentialDeviceType,
      backedUp: credentialBackedUp,
      name: name || input.defaultName(count + 1),
    }).catch((error: unknown) => {
      // The credential id is unique: this authenticator's passkey is someone's already.
      if ((error as { code?: unknown }).code === '23505') throw new LatchkeyError('input.invalid', 'This passkey is already added.', { cause: error });
      throw error;
    });
    await recordAudit(trx, actor, { type: 'user.factor_added', subject: { type: 'user', id: userId }, details: { factor: 'passkey', passkey_id: passkey.id } });
    return { passkey, recoveryCodes: await ensureRecoveryCodes(trx, actor, userId) };
  });
}

/**
 * A passkey sign-in: as the second step of a known user (their passkeys offered, the device's
 * verification welcome), or on its own (discoverable: the authenticator offers the user's
 * passkeys, and must verify the user, whose PIN or fingerprint is the second factor).
 */
export type AssertionContext = { purpose: 'second_factor'; userId: string; boundTo: string } | { purpose: 'passwordless'; userId: null; boundTo: string };

export async function authenticationOptions(deps: Deps, context: AssertionContext): Promise<PublicKeyCredentialRequestOptionsJSON> {
  const { rpID } = relyingParty(deps);
  const allowCredentials = context.userId === null ? undefined : (await listUserPasskeys(deps.db.knex, context.userId)).map((passkey) => ({ id: passkey.credentialId, transports: passkey.transports }));
  const options = await generateAuthenticationOptions({
    rpID,
    timeout: CEREMONY_SECONDS * 1000,
    userVerification: context.purpose === 'passwordless' ? 'required' : 'preferred',
    ...(allowCredentials ? { allowCredentials } : {}),
  });
  await storeChallenge(deps, options.challenge, context);
  return options;
}

/**
 * Checks a signed answer to authenticationOptions: the challenge (once, and only for the
 * ceremony it was issued for), the passkey (the pending user's own, for a second step), the
 * signature, user verification where required, and a signature counter that went up (a copied
 * key shows itself by repeating one). Returns the passkey and how it proved the user.
 */
export async function verifyPasskey(deps: Deps, submitted: string, context: AssertionContext): Promise<{ passkey: PasskeyRow; method: 'hwk' | 'swk' }> {
  const response = parseCredential<AuthenticationResponseJSON>(authenticationSchema as z.ZodType<AuthenticationResponseJSON>, submitted);
  const challenge = response && challengeIn(response.response.clientDataJSON);
  if (!response || !challenge) throw notAccepted();
  if (!(await takeChallenge(deps.db.knex, challenge, context))) throw notAccepted();
  const passkey = await findPasskeyByCredentialId(deps.db.knex, response.id);
  if (!passkey || (context.userId !== null && passkey.userId !== context.userId)) throw notAccepted();
  // A discoverable credential says whose it is; it must be the account the passkey belongs to.
  const handle = response.response.userHandle;
  if (handle !== undefined && Buffer.from(handle, 'base64url').toString('utf8') !== passkey.userId) throw notAccepted();
  const { rpID, origin } = relyingParty(deps);
  let verification;
  try {
    verification = await verifyAuthenticationResponse({
      response,
      expectedChallenge: challenge,
      expectedOrigin: origin,
      expectedRPID: rpID,
      credential: { id: passkey.credentialId, publicKey: Buffer.from(passkey.publicKey, 'base64url'), counter: passkey.counter, transports: passkey.transports },
      requireUserVerification: context.purpose === 'passwordless',
    });
  } catch (error) {
    throw new LatchkeyError('auth.invalid_credentials', notAccepted().message, { cause: error });
  }
  if (!verification.verified) throw notAccepted();
  if (context.purpose === 'passwordless' && !verification.authenticationInfo.userVerified) throw notAccepted();
  if (!(await recordPasskeyUse(deps.db.knex, passkey.id, passkey.counter, verification.authenticationInfo.newCounter))) throw notAccepted();
  return { passkey, method: amrOf(passkey) };
}

/** Removes the user's own passkey; another user's id is not found. Recovery codes go with the last factor. */
export async function removePasskey(deps: Deps, actor: Actor, userId: string, id: string): Promise<PasskeyRow> {
  if (!isId(id)) throw new LatchkeyError('route.not_found');
  return deps.db.knex.transaction(async (trx) => {
    const stillSignsIn = await guardLastWayIn(trx, userId);
    const removed = await deleteUserPasskey(trx, userId, id);
    if (!removed) throw new LatchkeyError('route.not_found');
    await stillSignsIn();
    await dropRecoveryCodesWithoutFactor(trx, userId);
    await recordAudit(trx, actor, { type: 'user.factor_removed', subject: { type: 'user', id: userId }, details: { factor: 'passkey', passkey_id: removed.id } });
    return removed;
  });
}

/** Ids are UUIDs; anything else names no passkey (and must not reach a uuid column). */
function isId(id: string): boolean {
  return /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(id);
}
