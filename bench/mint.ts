import type Provider from 'oidc-provider';

/** What each minted refresh token carries: a sign-in's, with offline access. */
const SCOPE = 'openid profile email offline_access';
/** Tokens saved at once: enough to keep a connection pool busy, few enough not to queue. */
const BATCH = 20;

/**
 * Refresh tokens as a finished sign-in leaves them: a grant of its own each (one user's
 * consent to one client), and a token in it. Made through the provider's own models, so the
 * same code fills the baseline's memory and Latchkey's database. The refresh grant rotates a
 * token on use and treats a second use as theft, so every request of a run needs its own.
 */
export async function mintRefreshTokens(provider: Provider, input: { clientId: string; accountId: string; count: number }): Promise<string[]> {
  const client = await provider.Client.find(input.clientId);
  if (!client) throw new Error(`client ${input.clientId} is not known to the provider`);
  const authTime = Math.floor(Date.now() / 1000);
  const mintOne = async () => {
    const grant = new provider.Grant({ accountId: input.accountId, clientId: input.clientId });
    grant.addOIDCScope(SCOPE);
    const grantId = await grant.save();
    const token = new provider.RefreshToken({ accountId: input.accountId, client, grantId, scope: SCOPE, authTime, gty: 'authorization_code' });
    return token.save();
  };
  const tokens: string[] = [];
  while (tokens.length < input.count) {
    const batch = Math.min(BATCH, input.count - tokens.length);
    tokens.push(...(await Promise.all(Array.from({ length: batch }, mintOne))));
  }
  return tokens;
}
