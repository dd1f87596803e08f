import { createHash, generateKeyPairSync, randomBytes, sign, type KeyObject } from 'node:crypto';
import type {
  AuthenticationResponseJSON,
  PublicKeyCredentialCreationOptionsJSON,
  PublicKeyCredentialRequestOptionsJSON,
  RegistrationResponseJSON,
} from '@simplewebauthn/server';
import { isoCBOR } from '@simplewebauthn/server/helpers';

/** Authenticator data flags (WebAuthn §6.1). */
const UP = 0x01;
const UV = 0x04;
const BE = 0x08;
const BS = 0x10;
const AT = 0x40;

interface Credential {
  id: Buffer;
  privateKey: KeyObject;
  rpId: string;
  /** The user handle (base64url) the relying party gave at registration, returned on discoverable sign-in. */
  userHandle: string;
  counter: number;
}

export interface AuthenticatorOptions {
  /** The page's origin the browser would put into client data. */
  origin: string;
  /** A synced passkey (backup eligible and backed up: amr swk); otherwise bound to this device (hwk). */
  synced?: boolean;
  /** Whether the authenticator verifies its user (PIN, biometrics): the UV flag. */
  userVerification?: boolean;
}

export interface AssertionOverrides {
  /** Use this credential (base64url id) whatever the options allow. */
  credentialId?: string;
  /** Sign with this counter instead of the next one. */
  counter?: number;
  userVerified?: boolean;
  origin?: string;
}

const sha256 = (data: Uint8Array | string) => createHash('sha256').update(data).digest();
const b64url = (data: Uint8Array) => Buffer.from(data).toString('base64url');

/**
 * A passkey authenticator in software, as a browser plus a platform authenticator present it to
 * the relying party: ES256 (P-256) keys, `none` attestation, discoverable credentials with their
 * user handle, and a signature counter that goes up with each use.
 */
export class SoftwareAuthenticator {
  private readonly credentials: Credential[] = [];

  constructor(readonly options: AuthenticatorOptions) {}

  /** The credential ids (base64url) this authenticator holds. */
  credentialIds(): string[] {
    return this.credentials.map((credential) => b64url(credential.id));
  }

  private flags(userVerified: boolean): number {
    return UP | (userVerified ? UV : 0) | (this.options.synced ? BE | BS : 0);
  }

  private clientData(type: 'webauthn.create' | 'webauthn.get', challenge: string, origin: string): Buffer {
    return Buffer.from(JSON.stringify({ type, challenge, origin, crossOrigin: false }));
  }

  /** navigator.credentials.create: a new key pair for options.rp.id, attested with `none`. */
  register(options: PublicKeyCredentialCreationOptionsJSON): RegistrationResponseJSON {
    const rpId = options.rp.id ?? new URL(this.options.origin).hostname;
    const excluded = new Set((options.excludeCredentials ?? []).map((descriptor) => descriptor.id));
    if (this.credentialIds().some((id) => excluded.has(id))) throw new Error('InvalidStateError: this authenticator already holds an excluded credential');
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const jwk = publicKey.export({ format: 'jwk' });
    const coseKey = isoCBOR.encode(
      new Map<number, number | Uint8Array>([
        [1, 2], // kty: EC2
        [3, -7], // alg: ES256
        [-1, 1], // crv: P-256
        [-2, Buffer.from(jwk.x!, 'base64url')],
        [-3, Buffer.from(jwk.y!, 'base64url')],
      ]),
    );
    const credential: Credential = { id: randomBytes(32), privateKey, rpId, userHandle: options.user.id, counter: 0 };
    const idLength = Buffer.alloc(2);
    idLength.writeUInt16BE(credential.id.length);
    const authData = Buffer.concat([
      sha256(rpId),
      Buffer.from([this.flags(this.options.userVerification ?? true) | AT]),
      Buffer.alloc(4), // counter 0
      Buffer.alloc(16), // AAGUID: none given
      idLength,
      credential.id,
      Buffer.from(coseKey),
    ]);
    const attestationObject = isoCBOR.encode(new Map<string, unknown>([['fmt', 'none'], ['attStmt', new Map()], ['authData', authData]]) as never);
    this.credentials.push(credential);
    return {
      id: b64url(credential.id),
      rawId: b64url(credential.id),
      type: 'public-key',
      response: {
        clientDataJSON: b64url(this.clientData('webauthn.create', options.challenge, this.options.origin)),
        attestationObject: b64url(attestationObject),
        transports: ['internal', 'hybrid'],
      },
      clientExtensionResults: {},
      authenticatorAttachment: 'platform',
    };
  }

  /** navigator.credentials.get: signs the challenge with an allowed credential (any of this RP's when none are listed). */
  authenticate(options: PublicKeyCredentialRequestOptionsJSON, overrides: AssertionOverrides = {}): AuthenticationResponseJSON {
    const rpId = options.rpId ?? new URL(this.options.origin).hostname;
    const allowed = new Set((options.allowCredentials ?? []).map((descriptor) => descriptor.id));
    const credential = this.credentials.find((candidate) => {
      if (overrides.credentialId) return b64url(candidate.id) === overrides.credentialId;
      return candidate.rpId === rpId && (allowed.size === 0 || allowed.has(b64url(candidate.id)));
    });
    if (!credential) throw new Error('NotAllowedError: no credential for this request');
    credential.counter = overrides.counter ?? credential.counter + 1;
    const counter = Buffer.alloc(4);
    counter.writeUInt32BE(credential.counter);
    const authData = Buffer.concat([sha256(credential.rpId), Buffer.from([this.flags(overrides.userVerified ?? this.options.userVerification ?? true)]), counter]);
    const clientDataJSON = this.clientData('webauthn.get', options.challenge, overrides.origin ?? this.options.origin);
    const signature = sign('sha256', Buffer.concat([authData, sha256(clientDataJSON)]), credential.privateKey);
    return {
      id: b64url(credential.id),
      rawId: b64url(credential.id),
      type: 'public-key',
      response: {
        clientDataJSON: b64url(clientDataJSON),
        authenticatorData: b64url(authData),
        signature: b64url(signature),
        userHandle: credential.userHandle,
      },
      clientExtensionResults: {},
      authenticatorAttachment: 'platform',
    };
  }
}
