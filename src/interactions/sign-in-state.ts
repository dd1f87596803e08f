import type { Provider } from '../oidc/provider.js';
import { LatchkeyError } from '../errors.js';

/**
 * What a sign-in has proven so far, kept on the provider's interaction (in the database, so any
 * node can take the next step, and gone with the interaction). It is never sent to the browser.
 */
export interface SignInState {
  /** The account a first factor proved, waiting for a second (or for one to be enrolled). */
  pending?: PendingSignIn;
  /**
   * An upstream identity whose verified email belongs to an existing account: linked only once
   * that account is proven here (password or passkey), never on the upstream's word alone.
   */
  link?: PendingLink;
  /** An upstream provider's answer, checked on the callback, for the interaction to pick up. */
  upstream?: UpstreamAnswer;
}

export interface PendingSignIn {
  accountId: string;
  /** RFC 8176 methods of the first factor. */
  amr: string[];
  /** When the first factor was proven (seconds): the second must follow soon after. */
  at: number;
  /** No factor is enrolled and this sign-in needs one: set one up first. */
  needsEnrolment: boolean;
  /**
   * The second factor is proven and one page remains before the application: the recovery
   * codes of a factor set up during this sign-in, or the notice that a recovery code was used.
   */
  proven?: 'otp' | 'hwk' | 'swk';
}

export interface PendingLink {
  providerId: string;
  providerName: string;
  subject: string;
  email: string;
  userId: string;
}

export interface UpstreamAnswer {
  providerId: string;
  subject: string;
  email: string | null;
  emailVerified: boolean;
  name: string | null;
}

const KEY = 'latchkey';

/** Seconds a second factor may follow the first. */
export const SECOND_FACTOR_WINDOW = 600;

type InteractionLike = { result?: Record<string, unknown> | undefined };

export function signInStateOf(interaction: InteractionLike): SignInState {
  return (interaction.result?.[KEY] as SignInState | undefined) ?? {};
}

/** Replaces the state kept on interaction `uid`. */
export async function saveSignInState(provider: Provider, uid: string, state: SignInState): Promise<void> {
  const interaction = await provider.Interaction.find(uid);
  if (!interaction) throw new LatchkeyError('interaction.expired');
  interaction.result = { ...(interaction.result ?? {}), [KEY]: state };
  await interaction.save(Math.max(1, interaction.exp - Math.floor(Date.now() / 1000)));
}

/** The sign-in waiting for a second factor, while it is fresh. */
export function pendingSignIn(interaction: InteractionLike): PendingSignIn {
  const { pending } = signInStateOf(interaction);
  if (!pending || pending.at + SECOND_FACTOR_WINDOW < Math.floor(Date.now() / 1000)) throw new LatchkeyError('interaction.expired');
  return pending;
}
