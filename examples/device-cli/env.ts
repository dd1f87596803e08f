import type { DeviceCliOptions } from './device-cli.js';

/** What a terminal sign-in asks for unless SCOPE says otherwise. */
export const DEFAULT_SCOPE = 'openid profile email offline_access';

/**
 * The options from environment variables. Throws one error, on one line, naming every variable
 * that is missing or wrong.
 */
export function deviceCliOptionsFromEnv(env: NodeJS.ProcessEnv): DeviceCliOptions {
  const problems: string[] = [];

  const issuer = env.ISSUER?.trim() ?? '';
  if (!issuer) problems.push("ISSUER is not set: give Latchkey's URL, e.g. http://localhost:3000");
  else if (!isHttpUrl(issuer)) problems.push(`ISSUER is not an http(s) URL: ${issuer}`);

  const clientId = env.CLIENT_ID?.trim() ?? '';
  if (!clientId) problems.push('CLIENT_ID is not set: give the client_id that `latchkey clients create` printed for this device client');

  const scope = env.SCOPE?.trim() || DEFAULT_SCOPE;
  if (!scope.split(/\s+/).includes('openid')) problems.push(`SCOPE must include openid, to learn who signed in: ${scope}`);

  if (problems.length > 0) throw new Error(`cannot sign in from this device: ${problems.join('; ')} (see examples/device-cli/README.md)`);
  return { issuer, clientId, scope };
}

function isHttpUrl(value: string): boolean {
  const protocol = URL.parse(value)?.protocol;
  return protocol === 'http:' || protocol === 'https:';
}
