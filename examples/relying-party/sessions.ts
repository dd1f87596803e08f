import { randomBytes, timingSafeEqual } from 'node:crypto';

/** What the app keeps about a signed-in user. Tokens stay on the server, never in the browser. */
export interface SignedInUser {
  idToken: string;
  idTokenClaims: Record<string, unknown>;
  userinfo: Record<string, unknown>;
  /** Gets access tokens for the API (RFC 8707 resource indicators); rotated on every use. */
  refreshToken: string;
}

/** The API's last answer, shown on the page until the next call. */
interface ApiAnswer {
  status: number;
  body: string;
}

export interface Session {
  readonly id: string;
  readonly csrfToken: string;
  readonly expiresAt: number;
  /** The checks of a sign-in on its way through Latchkey. */
  pendingSignIn?: { state: string; nonce: string; codeVerifier: string };
  user?: SignedInUser;
  apiToken?: { value: string; expiresAt: number };
  /** A token request in flight: two clicks at once must not both use one refresh token. */
  apiTokenRequest?: Promise<string>;
  apiAnswer?: ApiAnswer;
  /** Shown once, on the next page. */
  notice?: string;
}

/**
 * Sessions in this process's memory, named by a cookie holding 256 random bits (unguessable,
 * so there is nothing to sign). A restart signs everyone out; a real deployment with several
 * processes would keep them in a shared store.
 */
export class SessionStore {
  private readonly sessions = new Map<string, Session>();

  create(lifetimeMs: number, contents: Partial<Omit<Session, 'id' | 'csrfToken' | 'expiresAt'>> = {}): Session {
    const now = Date.now();
    for (const [id, session] of this.sessions) if (session.expiresAt <= now) this.sessions.delete(id);
    const session: Session = { id: randomToken(), csrfToken: randomToken(), expiresAt: now + lifetimeMs, ...contents };
    this.sessions.set(session.id, session);
    return session;
  }

  get(id: string | undefined): Session | undefined {
    const session = id ? this.sessions.get(id) : undefined;
    if (!session || session.expiresAt > Date.now()) return session;
    this.sessions.delete(session.id);
    return undefined;
  }

  delete(id: string): void {
    this.sessions.delete(id);
  }
}

export function csrfTokenMatches(session: Session, sent: unknown): boolean {
  if (typeof sent !== 'string') return false;
  const expected = Buffer.from(session.csrfToken);
  const actual = Buffer.from(sent);
  return actual.length === expected.length && timingSafeEqual(actual, expected);
}

function randomToken(): string {
  return randomBytes(32).toString('base64url');
}
